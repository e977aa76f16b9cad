-- One credit record per taxpayer and rating year, latest delivery wins. Only the A list is
-- published (catalogue TAX-RATING-A); other levels are kept for authorised queries and the grade.
-- A later year's rating replaces the earlier one: the earlier record ends (removed) on the day the
-- later rating was issued, so an A rating is no longer published once a C or D follows. A night
-- therefore recomputes every rating year of the taxpayers it touched.
-- record_id carries 'rating' so it can never meet a violation's authority/decision key.
with

ratings as (

    {{ rows_of_changed_keys(ref('stg_tax__ratings'), ['taxpayer_number']) }}

),

latest as (

    {{ latest_version('ratings', ['taxpayer_number', 'rating_year']) }}

),

issued as (

    select
        *,
        -- ratings of year Y are announced in spring of Y+1 when no rating date is delivered
        coalesce(rated_on, make_date(rating_year + 1, 4, 1)) as issued_on

    from latest

),

replaced as (

    select
        *,
        lead(issued_on) over (partition by taxpayer_number order by rating_year) as replaced_on

    from issued

),

final as (

    select
        {{ record_id('tax', ["'rating'", 'taxpayer_number', 'rating_year::text']) }} as record_id,
        'tax' as feed,
        'raw.tax_rating' as source_table,
        array[taxpayer_number, rating_year::text] as natural_key,
        case when rating_level = 'A' then 'tax.rating_a' else 'tax.rating_other' end as record_type,
        taxpayer_name as party_name,
        case when taxpayer_number ~ '^[0-9a-f]{64}$' then 'natural_person' else 'organisation' end
            as party_category,
        taxpayer_uscc as party_uscc,
        null::text as party_registration_number,
        null::text as party_organisation_code,
        case
            when taxpayer_uscc is null and taxpayer_number !~ '^[0-9a-f]{64}$' then taxpayer_number
        end as party_tax_number,
        -- an individual business keyed by its owner's resident ID (or that ID + 2 digits): the
        -- loader kept only HMACs; the owner's is the person's key in every feed
        case when taxpayer_number ~ '^[0-9a-f]{64}$'
            then coalesce(taxpayer_id_hash, taxpayer_number) end as party_person_key,
        null::text as party_id_masked,
        null::text as severity,
        issued_on as decision_date,
        issued_on as publicity_start,
        null::date as declared_publicity_end,
        replaced_on as ended_on,
        case when replaced_on is not null then 'removed' else 'active' end as source_status,
        coalesce(replaced_on, issued_on) as source_status_since,
        '税务部门' as authority_name,
        rating_year || '年度纳税信用级别 ' || rating_level as summary,
        batch_id,
        source_file,
        source_row,
        rating_year,
        rating_level,
        {{ dbt.current_timestamp() }} as built_at

    from replaced

)

select * from final
