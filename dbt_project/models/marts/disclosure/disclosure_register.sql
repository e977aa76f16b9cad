-- Every record in force with the catalogue's disclosure scope (Art. 10): the public attribute,
-- its rank among the audiences, and whether it is published today. The audience views
-- (disclosure_public ... disclosure_government) and disclosure.lookup_person read only this.
-- Persons: name, masked ID and the pseudonymous subject key; free text masked.
with

records as (

    select * from {{ ref('fct_credit_record') }}
    where status in ('active', 'disputed', 'corrected')

),

final as (

    select
        record_id,
        catalogue_item,
        item_name,
        public_attribute,
        case public_attribute
            when 'actively_public' then 1
            when 'on_application' then 2
            when 'authorised_query' then 3
            when 'government_sharing' then 4
        end as audience_rank,
        subject_key,
        subject_category,
        case when subject_category = 'organisation' then subject_key end as uscc,
        party_name as subject_name,
        {{ mask_person_ids('party_id_masked') }} as id_masked,
        severity,
        decision_date,
        publicity_start,
        publicity_end,
        status,
        is_disputed,
        is_publishable
            and publicity_start <= {{ as_of_date() }}
            and (publicity_end is null or publicity_end >= {{ as_of_date() }}) as is_published,
        authority_name,
        summary,
        {{ as_of_date() }} as disclosed_as_of

    from records

)

select * from final
