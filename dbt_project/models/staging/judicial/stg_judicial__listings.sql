with

source as (

    select * from {{ source('raw', 'judicial_listing') }}

),

renamed as (

    select
        case_code,
        party_key,
        list_type,
        content_hash,
        party_name,
        card_num as party_card_masked_or_uscc,
        party_uscc,
        party_type,
        court_name,
        area_name,
        gist_id,
        gist_unit,
        duty,
        performance,
        disrupt_type,
        registered_on,
        published_on,
        first_seen_on,
        last_seen_on,
        removed_on,
        batch_id,
        source_file,
        source_row

    from source

)

select * from renamed
