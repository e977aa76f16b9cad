-- What stewards must look at in the register and the records' identifiers (one row each):
--   uscc_check_failed        the register carries a USCC whose check character fails (kept, flagged)
--   identifier_ambiguous     a registration number / organisation code leads to several USCCs
--   uscc_not_in_register     a record of the marts names a USCC the register does not know
--   record_after_deregistration  a decision dated after the subject was deregistered
--   not_in_catalogue         a record type no catalogue item covers (not credit information, Art. 10)
--   no_publicity_rule        a public item whose rule family has no rule for the decision date
--   identifier_conflict      a subject's identifiers disagree: the register's organisation code is
--                            not USCC positions 9-17, or a record names a USCC together with an
--                            organisation code or registration number that belongs to another USCC
--   name_conflict            a record names a registered USCC with a name the register never gave it
--                            (any version: a renamed subject's old name is no conflict), or records of
--                            a USCC the register does not know carry different names; names compared
--                            after NFKC (full-width brackets), without white space
--   declared_publicity_end_outside_rule  the department's publicity end (CF_GSJZQ) is shorter than
--                            the minimum or longer than the maximum of the rule in force; the rule's
--                            maximum applies instead
{#- Incremental on tonight's change set (int_night__anomaly_scope, config in
    _stewards__models.yml): a night recomputes the anomalies of the records and subjects in
    scope, and the ambiguous identifiers; a first build or --full-refresh checks everything. -#}
{%- set in_scope = is_incremental() %}
with

anomaly_scope as not materialized (

    select * from {{ ref('int_night__anomaly_scope') }}

),

{% if in_scope %}

scope as (

    select scope_key from anomaly_scope where changed_at > {{ last_build() }}

),

scoped_records as (

    select substr(scope_key, length('record:') + 1) as record_id from scope where scope_key like 'record:%'

),

scoped_subjects as (

    select substr(scope_key, length('subject:') + 1) as subject_key from scope where scope_key like 'subject:%'

),

{% endif %}

-- not materialized (referenced several times): each check reads only what it needs, by index
registered as not materialized (

    select * from {{ ref('int_registration__latest') }}

),

-- the register-level checks: every registered subject in scope (`= any(array(...))`: by index,
-- whatever the planner guesses of the night's scope; see int_night__anomaly_scope)
registered_in_scope as not materialized (

    select * from registered
    {% if in_scope %}where uscc = any(array(select subject_key from scoped_subjects)){% endif %}

),

-- not materialized: referenced twice, it was copied whole (585k rows at 3M) every night; each
-- use reads what it needs (the ambiguous identifiers; tonight's registration numbers by index)
identifier_map as not materialized (

    select * from {{ ref('int_subject__identifier_map') }}

),

-- the record-level checks: every record in scope (all records of a subject in scope among them),
-- fetched once by index on a night; on a full build each check reads only what it needs, by index
{% if in_scope -%}
records as materialized (

    select * from {{ ref('int_credit_record__lifecycle') }}
    where record_id = any(array(select record_id from scoped_records))

),
{%- else -%}
records as not materialized (

    select * from {{ ref('int_credit_record__lifecycle') }}

),
{%- endif %}

-- Each record-level check starts from the few subjects or records it can concern and looks
-- their records up by index, so the model costs what it finds, not the size of the history.
--
-- PostgreSQL estimates `records` (a materialized CTE filtered by an array) at ~10 rows whatever
-- the night brings, so a join with `records` on its inner side is a nested loop over the CTE. The
-- 3M benchmark's night joined 424 deregistered subjects to its 87k records that way: 31.5M
-- comparisons, 11.6 s of a 15 s model. So `records` drives: each of its rows probes an index.
-- The scope (int_night__anomaly_scope) holds the records that changed, every record of a subject
-- whose register entry changed, and every record of a subject in scope the register does not
-- know (the names its records give it are checked together); not every record of a registered
-- subject whose records changed, so no check may read a subject's records beyond `records`.
subjects as not materialized (

    select * from {{ ref('dim_credit_subject') }}

),

-- every name the register ever gave each USCC, normalised (a rename is history, not a conflict);
-- on a night only the USCCs the records name, by index: unfiltered, the two anti-joins below
-- hashed all 586k register entries of the 3M benchmark and normalised every name (1.6 s)
register_names as not materialized (

    select uscc, {{ comparable_name('name') }} as name_key
    from {{ ref('stg_registration__subjects') }}
    {% if in_scope %}where uscc = any(array(select distinct party_uscc from records where party_uscc is not null)){% endif %}

),

-- organisations' records of other feeds, their names normalised (not materialized: the
-- normalisation runs only for the records a check keeps after its cheap filters)
named_records as not materialized (

    select
        record_id, subject_key, party_uscc, party_name, feed, authority_name, batch_id, source_file, source_row,
        {{ comparable_name('party_name') }} as name_key
    from records
    where party_uscc is not null
      and feed <> 'registration'

),

unregistered_names as (

    select
        party_uscc,
        count(distinct name_key) as name_count,
        string_agg(distinct party_name, '、' order by party_name) as names,
        string_agg(distinct feed, ', ' order by feed) as feeds
    from named_records
    where not exists (select from register_names where register_names.uscc = named_records.party_uscc)
      {% if in_scope %}and party_uscc in (select subject_key from scoped_subjects){% endif %}
    group by party_uscc
    having count(distinct name_key) > 1

),

anomalies as (

    select
        'uscc_check_failed' as anomaly_type,
        'warning' as severity,
        uscc as subject_key,
        null::text as record_id,
        uscc,
        registration_number,
        organisation_code,
        'registered USCC fails the GB 32100 check character; accepted from the register, confirm with the registering authority' as detail,
        batch_id,
        source_file,
        source_row
    from registered_in_scope
    where uscc_check_failed

    union all

    select
        'identifier_ambiguous',
        'warning',
        null,
        null,
        null,
        case when identifier_type = 'registration_number' then identifier end,
        case when identifier_type = 'organisation_code' then identifier end,
        replace(identifier_type, '_', ' ') || ' leads to ' || candidate_count || ' USCCs; records carrying only it stay unresolved',
        null,
        null,
        null
    from identifier_map
    where is_ambiguous

    union all

    select
        'uscc_not_in_register',
        'warning',
        records.subject_key,
        records.record_id,
        records.subject_key,
        null,
        null,
        records.feed || ' record names a USCC the register does not know',
        records.batch_id,
        records.source_file,
        records.source_row
    from records
    inner join subjects as outside on outside.subject_key = records.subject_key
    where outside.subject_category = 'organisation'
      and not outside.in_register
      and records.subject_category = 'organisation'
      and records.feed <> 'registration'

    union all

    select
        'record_after_deregistration',
        'warning',
        records.subject_key,
        records.record_id,
        records.subject_key,
        null,
        null,
        records.feed || ' decision of ' || records.decision_date || ' after deregistration on ' || registered.deregistered_on,
        records.batch_id,
        records.source_file,
        records.source_row
    from records
    inner join registered on registered.uscc = records.subject_key
    where registered.registration_status = '注销'
      and records.feed <> 'registration'
      and records.decision_date > registered.deregistered_on

    union all

    select
        'not_in_catalogue',
        'error',
        subject_key,
        record_id,
        null,
        null,
        null,
        'record type ' || record_type || ' has no item in the catalogue edition in force; kept out of the marts',
        batch_id,
        source_file,
        source_row
    from records
    where catalogue_item is null

    union all

    select
        'no_publicity_rule',
        'error',
        subject_key,
        record_id,
        null,
        null,
        null,
        'no publicity rule for ' || catalogue_item || ' decided on ' || decision_date || '; not published until the rules cover it',
        batch_id,
        source_file,
        source_row
    from records
    where catalogue_item is not null
      and public_attribute = 'actively_public'
      and not never_published_item
      and rule_version is null

    union all

    select
        'identifier_conflict',
        'warning',
        uscc,
        null,
        uscc,
        registration_number,
        organisation_code,
        'the register gives organisation code ' || organisation_code || ' but the USCC carries '
            || substr(uscc, 9, 9) || ' (positions 9-17); confirm with the registering authority',
        batch_id,
        source_file,
        source_row
    from registered_in_scope
    where organisation_code is not null
      and organisation_code <> substr(uscc, 9, 9)

    union all

    select
        'identifier_conflict',
        'warning',
        records.subject_key,
        records.record_id,
        records.party_uscc,
        records.party_registration_number,
        records.party_organisation_code,
        'the record names USCC ' || records.party_uscc || ' with '
            || case
                when records.party_organisation_code <> substr(records.party_uscc, 9, 9)
                    then 'organisation code ' || records.party_organisation_code
                -- the other subject is not named here: its USCC is in no column of this row, and
                -- an all-digit one would fail the marts gate's ID-leak check
                else 'registration number ' || records.party_registration_number
                    || ', which the register gives to another USCC (dim_credit_subject.registration_number)'
            end
            || '; the USCC was used, confirm the party with ' || coalesce(records.authority_name, 'the department'),
        records.batch_id,
        records.source_file,
        records.source_row
    from records
    left join identifier_map as by_regno
        on by_regno.identifier_type = 'registration_number'
        and by_regno.identifier = records.party_registration_number
        and not by_regno.is_ambiguous
    where records.party_uscc is not null
      and records.feed <> 'registration'  -- the register's own entries: checked above
      and (
        records.party_organisation_code <> substr(records.party_uscc, 9, 9)
        or by_regno.uscc <> records.party_uscc
      )

    union all

    select
        'name_conflict',
        'warning',
        named_records.subject_key,
        named_records.record_id,
        named_records.party_uscc,
        null,
        null,
        'the ' || named_records.feed || ' record names USCC ' || named_records.party_uscc || ' as '
            || named_records.party_name || ', a name the register never gave it (registered as '
            || registered.name || '); confirm the party with '
            || coalesce(named_records.authority_name, 'the department'),
        named_records.batch_id,
        named_records.source_file,
        named_records.source_row
    from named_records
    inner join registered on registered.uscc = named_records.party_uscc
    -- most records carry the registered name as it is: no need to normalise those
    where named_records.party_name is distinct from registered.name
      and not exists (
          select from register_names
          where register_names.uscc = named_records.party_uscc
            and register_names.name_key = named_records.name_key
      )

    union all

    select
        'name_conflict',
        'warning',
        party_uscc,
        null,
        party_uscc,
        null,
        null,
        'records of ' || feeds || ' name USCC ' || party_uscc || ' differently (' || names
            || ') and the register does not know it; confirm which party is meant',
        null,
        null,
        null
    from unregistered_names

    union all

    select
        'declared_publicity_end_outside_rule',
        'warning',
        subject_key,
        record_id,
        null,
        null,
        null,
        'the department declares publicity until ' || declared_publicity_end || ', outside what ' || rule_version
            || ' allows for a decision of ' || decision_date || '; published until ' || publicity_end
            || ' instead: confirm with ' || coalesce(authority_name, 'the providing department'),
        batch_id,
        source_file,
        source_row
    from records
    where declared_end_outside_rule

),

final as (

    select
        md5(concat_ws('|', anomaly_type, record_id, uscc, registration_number, organisation_code)) as anomaly_id,
        *,
        case
            when record_id is not null then 'record:' || record_id
            when anomaly_type = 'identifier_ambiguous' then 'identifiers'
            else 'subject:' || subject_key
        end as scope_key,
        {{ dbt.current_timestamp() }} as built_at
    from anomalies

)

select * from final
