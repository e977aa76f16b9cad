-- Per subject on the as-of date: counts by Art. 11 category, active dishonesty flags, the latest
-- event, the latest tax rating and a rule-based credit grade (seeds/credit_grade_rules.csv) with
-- every reason that produced it. "In force" = active, disputed or corrected and already started.
with

subjects as (

    select * from {{ ref('dim_credit_subject') }}
    where {{ in_change_set('subject_key', 'int_night__changed_subjects', 'subject_key') }}

),

records as (

    select
        *,
        status in ('active', 'disputed', 'corrected')
            and coalesce(publicity_start, decision_date) <= {{ as_of_date() }} as in_force

    from {{ ref('fct_credit_record') }}
    where subject_key is not null
      and {{ in_change_set('subject_key', 'int_night__changed_subjects', 'subject_key') }}

),

ratings as (

    select * from {{ ref('int_tax__rating_records') }}

),

rules as (

    select * from {{ ref('credit_grade_rules') }}

),

grades as (

    select * from {{ ref('credit_grades') }}

),

{#- per-subject counts of records in force, by the condition that defines each metric
    (macros/grade_metric_evidence.sql, the one definition explain uses too); the ids of the
    counted records go with them, so a grade reason names the records that triggered it -#}
{#- positive_active: positive information (Art. 6(3)) is whatever the catalogue marks positive
    (the tax A list, kept credit commitments): a new positive item counts without a change here -#}
{%- set record_metrics = [
    'adverse_active', 'positive_active', 'penalty_active', 'serious_penalty_active', 'dishonest_judgment_debtor_active',
    'consumption_restricted_active', 'major_tax_violation_active', 'serious_social_insurance_active',
    'arrears_active', 'joint_discipline_active',
] %}

counts as (

    select
        subject_key,
        count(*) as records_total,
        count(*) filter (where in_force) as records_in_force,
        array_agg(record_id order by record_id) filter (where in_force) as records_in_force_ids,
        {% for category, label in [
            (1, 'registration'), (2, 'commitment'), (3, 'commendation'), (4, 'judgment_penalty'),
            (5, 'refusal_to_perform'), (6, 'refusal_to_pay'), (7, 'false_information'), (8, 'other'),
        ] %}
        count(*) filter (where in_force and art11_category = {{ category }}) as art11_{{ category }}_{{ label }}_count,
        {% endfor %}
        {% for metric in record_metrics %}
        {%- set condition = grade_metric_evidence("'" ~ metric ~ "'") %}
        count(*) filter (where in_force and {{ condition }}) as {{ metric }},
        array_agg(record_id order by record_id) filter (where in_force and {{ condition }}) as {{ metric }}_ids{% if not loop.last %},{% endif %}
        {% endfor %}

    from records
    group by subject_key

),

latest_event as (

    select *
    from (
        select
            subject_key,
            record_id,
            catalogue_item,
            decision_date,
            status,
            row_number() over (
                partition by subject_key
                order by decision_date desc, record_id
            ) as recency
        from records
        where feed <> 'registration'
    ) as ranked
    where recency = 1

),

latest_rating as (

    select *
    from (
        select
            records.subject_key,
            ratings.rating_year,
            ratings.rating_level,
            ratings.record_id,
            row_number() over (
                partition by records.subject_key
                order by ratings.rating_year desc, ratings.batch_id desc
            ) as recency
        from ratings
        inner join records on records.record_id = ratings.record_id
    ) as ranked
    where recency = 1

),

profile as (

    select
        subjects.subject_key,
        subjects.subject_category,
        subjects.name,
        subjects.uscc,
        subjects.region_code,
        coalesce(counts.records_total, 0) as records_total,
        coalesce(counts.records_in_force, 0) as records_in_force,
        {% for category, label in [
            (1, 'registration'), (2, 'commitment'), (3, 'commendation'), (4, 'judgment_penalty'),
            (5, 'refusal_to_perform'), (6, 'refusal_to_pay'), (7, 'false_information'), (8, 'other'),
        ] %}
        coalesce(counts.art11_{{ category }}_{{ label }}_count, 0) as art11_{{ category }}_{{ label }}_count,
        {% endfor %}
        coalesce(counts.adverse_active, 0) as adverse_active,
        coalesce(counts.positive_active, 0) as positive_active,
        coalesce(counts.penalty_active, 0) as penalty_active,
        coalesce(counts.serious_penalty_active, 0) as serious_penalty_active,
        coalesce(counts.dishonest_judgment_debtor_active, 0) as dishonest_judgment_debtor_active,
        coalesce(counts.consumption_restricted_active, 0) as consumption_restricted_active,
        coalesce(counts.major_tax_violation_active, 0) as major_tax_violation_active,
        coalesce(counts.serious_social_insurance_active, 0) as serious_social_insurance_active,
        coalesce(counts.arrears_active, 0) as arrears_active,
        coalesce(counts.joint_discipline_active, 0) as joint_discipline_active,
        coalesce(counts.dishonest_judgment_debtor_active, 0) > 0 as is_dishonest_judgment_debtor,
        coalesce(counts.consumption_restricted_active, 0) > 0 as is_consumption_restricted,
        coalesce(counts.major_tax_violation_active, 0) > 0 as is_major_tax_violator,
        coalesce(counts.serious_social_insurance_active, 0) > 0 as is_serious_social_insurance_dishonest,
        coalesce(counts.serious_penalty_active, 0) > 0 as has_serious_penalty,
        coalesce(counts.joint_discipline_active, 0) > 0 as under_joint_discipline,
        latest_event.record_id as latest_record_id,
        latest_event.catalogue_item as latest_record_item,
        latest_event.decision_date as latest_record_on,
        latest_event.status as latest_record_status,
        latest_rating.rating_level as tax_rating,
        latest_rating.rating_year as tax_rating_year,
        case when latest_rating.rating_level = 'A' then 1 else 0 end as tax_rating_a,
        case when latest_rating.rating_level = 'C' then 1 else 0 end as tax_rating_c,
        case when latest_rating.rating_level = 'D' then 1 else 0 end as tax_rating_d

    from subjects
    left join counts on counts.subject_key = subjects.subject_key
    left join latest_event on latest_event.subject_key = subjects.subject_key
    left join latest_rating on latest_rating.subject_key = subjects.subject_key

),

final as (

    select
        profile.*,
        -- a subject without any credit information in force is not rated, rather than graded A
        case when profile.records_in_force = 0 then 'N' else graded.credit_grade end as credit_grade,
        case
            when profile.records_in_force = 0 then array['not rated: no credit information in force']
            else graded.grade_reasons
        end as grade_reasons,
        {{ as_of_date() }} as profile_as_of,
        {{ dbt.current_timestamp() }} as built_at

    from profile
    left join counts on counts.subject_key = profile.subject_key
    left join latest_rating on latest_rating.subject_key = profile.subject_key
    {#- Each subject is graded from its own metrics in a lateral subquery: a handful of rows per
        subject matched against the rules (hashed once). Why not a join of two per-subject CTEs:
        the planner has no statistics for a CTE's aggregate (it guesses 200 rows), and on ~300k
        subjects it chose a nested loop of every subject against every graded subject. #}
    left join lateral (

        select
            (array_agg(matched.grade order by matched.grade_rank desc, matched.rule_code))[1] as credit_grade,
            array_agg(matched.reason order by matched.grade_rank desc, matched.rule_code) as grade_reasons

        from (
            select
                rules.rule_code,
                rules.grade,
                grades.grade_rank,
                max(grades.grade_rank) over () as worst_rank,
                rules.rule_code || ' ' || rules.reason || ' (' || metric.name || ' = ' || metric.value
                    || coalesce(': ' || array_to_string(metric.record_ids, ', '), '') || ')' as reason

            from (
                values
                {% for metric in credit_grade_metrics() %}
                    {%- if metric in record_metrics or metric == 'records_in_force' %}
                        {%- set ids = 'counts.' ~ metric ~ '_ids' %}
                    {%- elif metric.startswith('tax_rating_') %}
                        {%- set ids = 'array_remove(array[latest_rating.record_id], null)' %}
                    {%- else %}
                        {%- set ids = 'null::text[]' %}
                    {%- endif %}
                    ('{{ metric }}', profile.{{ metric }}::numeric, {{ ids }}){% if not loop.last %},{% endif %}
                {% endfor %}
            ) as metric (name, value, record_ids)
            inner join rules on rules.metric = metric.name
            inner join grades on grades.grade = rules.grade
            where case rules.operator
                when '>=' then metric.value >= rules.threshold
                when '>' then metric.value > rules.threshold
                when '=' then metric.value = rules.threshold
                when '<=' then metric.value <= rules.threshold
                when '<' then metric.value < rules.threshold
            end
        ) as matched
        -- the worst grade matched, with every reason for it and for the other adverse grades; the
        -- best grade's reasons ("no active adverse record") only when nothing worse matched
        where matched.grade_rank > (select min(grade_rank) from grades where grade <> 'N')
           or matched.worst_rank = matched.grade_rank

    ) as graded on true

)

select * from final
