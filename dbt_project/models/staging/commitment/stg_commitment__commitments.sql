with

source as (

    select * from {{ source('raw', 'commitment') }}

),

renamed as (

    select
        acceptor_code,
        commitment_number,
        party_key,
        party_name,
        party_type,
        party_uscc,
        card_num as party_card_masked_or_uscc,
        commitment_type,
        content as commitment_content,
        acceptor_name,
        committed_on,
        due_on,
        fulfilment_status,
        broken_on,
        updated_at,
        batch_id,
        source_file,
        source_row

    from source

)

select * from renamed
