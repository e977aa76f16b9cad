-- depends_on: {{ ref('int_registration__latest') }}
-- Per subject on the as-of date: counts by Art. 11 category, active dishonesty flags, the latest
-- event, the latest tax rating and a rule-based credit grade (seeds/credit_grade_rules.csv) with
-- every reason that produced it. "In force" = active, disputed or corrected and already started.
with

subjects as (

    select * from {{ ref('dim_credit_subject') }}
    where {{ in_refresh_scope('subject_key', 'subject_key') }}

),

records as (

    select
        *,
        status in ('active', 'disputed', 'corrected')
            and coalesce(publicity_start, decision_date) <= {{ as_of_date() }} as in_force

    from {{ ref('fct_credit_record') }}
    where subject_key is not null
      and {{ in_refresh_scope('subject_key', 'subject_key') }}

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

counts as (

    select
        subject_key,
        count(*) as records_total,
        count(*) filter (where in_force) as records_in_force,
        {% for category, label in [
            (1, 'registration'), (2, 'commitment'), (3, 'commendation'), (4, 'judgment_penalty'),
            (5, 'refusal_to_perform'), (6, 'refusal_to_pay'), (7, 'false_information'), (8, 'other'),
        ] %}
        count(*) filter (where in_force and art11_category = {{ category }}) as art11_{{ category }}_{{ label }}_count,
        {% endfor %}
        count(*) filter (where in_force and severity in ('minor', 'ordinary', 'serious')) as adverse_active,
        count(*) filter (where in_force and feed = 'penalty') as penalty_active,
        count(*) filter (where in_force and feed = 'penalty' and severity = 'serious') as serious_penalty_active,
        count(*) filter (where in_force and record_type = 'judicial.dishonest') as dishonest_judgment_debtor_active,
        count(*) filter (where in_force and record_type = 'judicial.restricted') as consumption_restricted_active,
        count(*) filter (where in_force and record_type = 'tax.major_violation') as major_tax_violation_active,
        count(*) filter (where in_force and record_type = 'social_insurance.serious') as serious_social_insurance_active,
        count(*) filter (where in_force and feed = 'social_insurance') as arrears_active,
        count(*) filter (where in_force and joint_discipline) as joint_discipline_active

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

metrics as (

    select profile.subject_key, metric.name, metric.value
    from profile
    cross join lateral (
        values
        {% for metric in credit_grade_metrics() %}
            ('{{ metric }}', profile.{{ metric }}::numeric){% if not loop.last %},{% endif %}
        {% endfor %}
    ) as metric (name, value)

),

matched as (

    select
        metrics.subject_key,
        rules.rule_code,
        rules.grade,
        grades.grade_rank,
        rules.rule_code || ' ' || rules.reason || ' (' || metrics.name || ' = ' || metrics.value || ')' as reason

    from metrics
    inner join rules on rules.metric = metrics.name
    inner join grades on grades.grade = rules.grade
    where case rules.operator
        when '>=' then metrics.value >= rules.threshold
        when '>' then metrics.value > rules.threshold
        when '=' then metrics.value = rules.threshold
        when '<=' then metrics.value <= rules.threshold
        when '<' then metrics.value < rules.threshold
    end

),

graded as (

    select
        subject_key,
        (array_agg(grade order by grade_rank desc, rule_code))[1] as credit_grade,
        array_agg(reason order by grade_rank desc, rule_code) as grade_reasons

    from matched
    group by subject_key

),

final as (

    select
        profile.*,
        graded.credit_grade,
        graded.grade_reasons,
        {{ as_of_date() }} as profile_as_of,
        {{ seed_fingerprint(['credit_grade_rules', 'credit_grades']) }} as reference_fingerprint,
        {{ dbt.current_timestamp() }} as built_at

    from profile
    left join graded on graded.subject_key = profile.subject_key

)

select * from final
