-- Records whose subject could not be resolved (nothing is dropped silently): they stay in
-- fct_credit_record with a null subject_key and are listed here with the reason and the
-- identifiers that were delivered, for stewards to chase with the providing department.
with

records as (

    select * from {{ ref('int_credit_record__lifecycle') }}

),

final as (

    select
        record_id,
        feed,
        record_type,
        catalogue_item,
        party_name,
        party_registration_number,
        party_organisation_code,
        party_tax_number as party_tax_registration_number,
        unresolved_reason,
        decision_date,
        authority_name,
        batch_id,
        source_file,
        source_row

    from records
    where subject_key is null

)

select * from final
