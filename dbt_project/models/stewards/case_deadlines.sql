-- Open objection and repair cases against the deadline of the stage they are in (working days
-- from the seed case_deadline_rules, holidays from working_calendar), as of the build's date.
-- The nightly report lists the ones due soon or overdue.
with

cases as (

    select * from {{ ref('stg_governance__cases') }}
    where case_state in ('received', 'under_review')

),

rules as (

    select * from {{ ref('case_deadline_rules') }}

),

calendar as (

    select * from {{ ref('working_calendar') }}

),

open_stages as (

    select
        cases.*,
        rules.stage,
        rules.working_days,
        rules.warn_within_working_days,
        rules.source as deadline_source,
        case rules.stage
            when 'platform_answer' then cases.received_on
            when 'authority_decision' then cases.accepted_on
        end as stage_started_on

    from cases
    inner join rules
        on rules.case_type = cases.case_type
        and rules.stage = case cases.case_state
            when 'received' then 'platform_answer'
            when 'under_review' then 'authority_decision'
        end

),

-- the working days after each stage's start, numbered; two weeks per working day and a month
-- of holidays is more than any calendar needs to reach the deadline
working_days as (

    select
        open_stages.case_id,
        series.day::date as day,
        row_number() over (partition by open_stages.case_id order by series.day) as day_number

    from open_stages
    cross join lateral generate_series(
        open_stages.stage_started_on + 1,
        open_stages.stage_started_on + open_stages.working_days * 2 + 30,
        interval '1 day'
    ) as series (day)
    left join calendar on calendar.day = series.day::date
    where coalesce(calendar.is_working_day, extract(isodow from series.day) < 6)

),

due as (

    select
        open_stages.case_id,
        max(working_days.day) filter (where working_days.day_number = open_stages.working_days) as due_on

    from open_stages
    inner join working_days using (case_id)
    group by open_stages.case_id

),

counted as (

    select
        open_stages.*,
        due.due_on,
        (
            select count(*)
            from working_days
            where working_days.case_id = open_stages.case_id
              and working_days.day > {{ as_of_date() }}
              and working_days.day <= due.due_on
        )::integer as working_days_left

    from open_stages
    inner join due using (case_id)

),

final as (

    select
        case_id,
        case_type,
        record_id,
        case_state,
        stage,
        applicant,
        received_on,
        stage_started_on,
        due_on,
        working_days_left,
        greatest({{ as_of_date() }} - due_on, 0) as days_overdue,
        case
            when {{ as_of_date() }} > due_on then 'overdue'
            when working_days_left <= warn_within_working_days then 'due_soon'
            else 'on_time'
        end as deadline_state,
        deadline_source,
        {{ as_of_date() }} as deadlines_as_of

    from counted

)

select * from final
