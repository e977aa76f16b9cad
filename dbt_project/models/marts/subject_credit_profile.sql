-- Per subject on the as-of date: counts by Art. 11 category, active dishonesty flags, the latest
-- event, the latest tax rating and a rule-based credit grade (seeds/credit_grade_rules.csv) with
-- every reason that produced it. "In force" = active, disputed or corrected and already started.
with

subjects as (

    select subject_key, subject_category, name, uscc, region_code
    from {{ ref('dim_credit_subject') }}
    where {{ in_change_set('subject_key', 'int_night__changed_subjects', 'subject_key') }}

),

-- not filtered by the change set: reached from `subjects` below, through the fact's subject_key index
records as (

    select
        *,
        status in ('active', 'disputed', 'corrected')
            and coalesce(publicity_start, decision_date) <= {{ as_of_date() }} as in_force

    from {{ ref('fct_credit_record') }}
    where subject_key is not null

),

ratings as (

    select record_id, rating_year, rating_level, batch_id
    from {{ ref('int_tax__rating_records') }}

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
{%- set art11_categories = [
    (1, 'registration'), (2, 'commitment'), (3, 'commendation'), (4, 'judgment_penalty'),
    (5, 'refusal_to_perform'), (6, 'refusal_to_pay'), (7, 'false_information'), (8, 'other'),
] %}

-- Everything about a subject in one pass over its records, grouped by subject: the counts, the
-- latest event and the latest tax rating. Why one aggregate, not one CTE each joined back: the
-- night's subjects come through `= any(array(...))`, which PostgreSQL estimates at 10 rows
-- whatever their number, so a join of two per-subject sets was planned as a nested loop of one
-- against the other (10M records, 57k subjects in a night: 57k x 57k comparisons, over 10
-- minutes). From each subject the records come through the fact's subject_key index and each
-- record's rating through the rating's record_id: linear whatever the estimate.
aggregated as (

    select
        subjects.subject_key,
        subjects.subject_category,
        subjects.name,
        subjects.uscc,
        subjects.region_code,
        count(records.record_id) as records_total,
        count(*) filter (where records.in_force) as records_in_force,
        array_agg(records.record_id order by records.record_id) filter (where records.in_force) as records_in_force_ids,
        {% for category, label in art11_categories %}
        count(*) filter (where records.in_force and records.art11_category = {{ category }}) as art11_{{ category }}_{{ label }}_count,
        {% endfor %}
        {% for metric in record_metrics %}
        {%- set condition = grade_metric_evidence("'" ~ metric ~ "'") %}
        count(*) filter (where records.in_force and {{ condition }}) as {{ metric }},
        array_agg(records.record_id order by records.record_id) filter (where records.in_force and {{ condition }}) as {{ metric }}_ids,
        {% endfor %}
        {% for column, name in [('record_id', 'latest_record_id'), ('catalogue_item', 'latest_record_item'),
                                ('decision_date', 'latest_record_on'), ('status', 'latest_record_status')] %}
        (array_agg(records.{{ column }} order by records.decision_date desc, records.record_id)
            filter (where records.feed <> 'registration'))[1] as {{ name }},
        {% endfor %}
        {% for column, name in [('rating_level', 'tax_rating'), ('rating_year', 'tax_rating_year'),
                                ('record_id', 'tax_rating_record_id')] %}
        (array_agg(ratings.{{ column }} order by ratings.rating_year desc, ratings.batch_id desc)
            filter (where ratings.record_id is not null))[1] as {{ name }}{% if not loop.last %},{% endif %}
        {% endfor %}

    from subjects
    left join records on records.subject_key = subjects.subject_key
    left join ratings on ratings.record_id = records.record_id
    group by subjects.subject_key, subjects.subject_category, subjects.name, subjects.uscc, subjects.region_code

),

profile as (

    select
        *,
        case when tax_rating = 'A' then 1 else 0 end as tax_rating_a,
        case when tax_rating = 'C' then 1 else 0 end as tax_rating_c,
        case when tax_rating = 'D' then 1 else 0 end as tax_rating_d

    from aggregated

),

final as (

    select
        profile.subject_key,
        profile.subject_category,
        profile.name,
        profile.uscc,
        profile.region_code,
        profile.records_total,
        profile.records_in_force,
        {% for category, label in art11_categories %}
        profile.art11_{{ category }}_{{ label }}_count,
        {% endfor %}
        {% for metric in record_metrics %}
        profile.{{ metric }},
        {% endfor %}
        profile.dishonest_judgment_debtor_active > 0 as is_dishonest_judgment_debtor,
        profile.consumption_restricted_active > 0 as is_consumption_restricted,
        profile.major_tax_violation_active > 0 as is_major_tax_violator,
        profile.serious_social_insurance_active > 0 as is_serious_social_insurance_dishonest,
        profile.serious_penalty_active > 0 as has_serious_penalty,
        profile.joint_discipline_active > 0 as under_joint_discipline,
        profile.latest_record_id,
        profile.latest_record_item,
        profile.latest_record_on,
        profile.latest_record_status,
        profile.tax_rating,
        profile.tax_rating_year,
        profile.tax_rating_a,
        profile.tax_rating_c,
        profile.tax_rating_d,
        -- a subject without any credit information in force is not rated, rather than graded A
        case when profile.records_in_force = 0 then 'N' else graded.credit_grade end as credit_grade,
        case
            when profile.records_in_force = 0 then array['not rated: no credit information in force']
            else graded.grade_reasons
        end as grade_reasons,
        {{ as_of_date() }} as profile_as_of,
        {{ dbt.current_timestamp() }} as built_at

    from profile
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
                        {%- set ids = 'profile.' ~ metric ~ '_ids' %}
                    {%- elif metric.startswith('tax_rating_') %}
                        {%- set ids = 'array_remove(array[profile.tax_rating_record_id], null)' %}
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
