with

source as (

    select * from {{ source('raw', 'penalty') }}

),

renamed as (

    select
        authority_code,
        decision_number,
        operation,
        legacy_status,
        field_set,
        party_name,
        party_type,
        party_uscc,
        party_registration_number,
        replace(party_organisation_code, '-', '') as party_organisation_code,
        party_tax_number,
        party_id_type,
        party_id_hash,
        party_id_masked,
        offence_type,
        facts,
        legal_basis,
        penalty_types,
        penalty_name,
        content,
        fine_cny,
        confiscation_cny,
        decided_on as decision_date,
        valid_until,
        publicity_end_declared,
        authority_name,
        batch_id,
        source_file,
        source_row

    from source

)

select * from renamed
