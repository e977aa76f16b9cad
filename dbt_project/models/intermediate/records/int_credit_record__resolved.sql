-- Who each record is about. Organisations: the USCC when delivered; else the registration number
-- or organisation code through the register (a 15-character legacy tax number is area code +
-- organisation code). Natural persons: the keyed hash of their ID (never the clear number); a person
-- the lists show masked resolves to the clear-ID person a link ties it to (int_person__resolution).
-- Whatever cannot be resolved keeps subject_key null and a reason (the identifiers themselves are in
-- their own columns), and is listed for stewards.
with

records as (

    select * from {{ ref('int_credit_record__unioned') }}

),

-- not materialized (joined three times): an incremental reader looks a few records' identifiers
-- up by the map's unique index instead of hashing the whole map three times
identifier_map as not materialized (

    select * from {{ ref('int_subject__identifier_map') }}

),

person_resolution as not materialized (

    select * from {{ ref('int_person__resolution') }}

),

matched as (

    select
        records.*,
        by_regno.uscc as uscc_by_registration_number,
        by_regno.is_ambiguous as registration_number_ambiguous,
        by_orgcode.uscc as uscc_by_organisation_code,
        by_orgcode.is_ambiguous as organisation_code_ambiguous,
        by_taxno.uscc as uscc_by_tax_number,
        by_taxno.is_ambiguous as tax_number_ambiguous,
        person_resolution.subject_key as person_subject_key,
        person_resolution.resolution = 'linked' as person_linked

    from records
    left join identifier_map as by_regno
        on by_regno.identifier_type = 'registration_number'
        and by_regno.identifier = records.party_registration_number
    left join identifier_map as by_orgcode
        on by_orgcode.identifier_type = 'organisation_code'
        and by_orgcode.identifier = records.party_organisation_code
    left join identifier_map as by_taxno
        on by_taxno.identifier_type = 'organisation_code'
        and by_taxno.identifier = {{ organisation_code_of_tax_number('records.party_tax_number') }}
    left join person_resolution
        on person_resolution.person_key = records.party_person_key

),

final as (

    select
        *,
        case
            when party_uscc is not null then party_uscc
            when uscc_by_registration_number is not null then uscc_by_registration_number
            when uscc_by_organisation_code is not null then uscc_by_organisation_code
            when uscc_by_tax_number is not null then uscc_by_tax_number
            when party_person_key is not null then coalesce(person_subject_key, party_person_key)
        end as subject_key,
        case
            when party_uscc is not null then 'uscc'
            when uscc_by_registration_number is not null then 'registration_number'
            when uscc_by_organisation_code is not null then 'organisation_code'
            when uscc_by_tax_number is not null then 'tax_number'
            when person_linked then 'person_link'
            when party_person_key is not null then 'person_key'
            else 'unresolved'
        end as subject_resolution,
        case
            when party_uscc is not null
                or uscc_by_registration_number is not null
                or uscc_by_organisation_code is not null
                or uscc_by_tax_number is not null then 'organisation'
            when party_person_key is not null then 'natural_person'
        end as subject_category,
        case
            when party_uscc is not null
                or uscc_by_registration_number is not null
                or uscc_by_organisation_code is not null
                or uscc_by_tax_number is not null
                or party_person_key is not null then null
            else concat_ws('; ',
                case when registration_number_ambiguous then 'registration number belongs to several USCCs'
                     when party_registration_number is not null then 'registration number not in the register' end,
                case when organisation_code_ambiguous then 'organisation code belongs to several USCCs'
                     when party_organisation_code is not null then 'organisation code not in the register' end,
                case when tax_number_ambiguous then 'tax registration number belongs to several USCCs'
                     when party_tax_number is not null then 'tax registration number cannot be linked to a USCC' end,
                case when party_registration_number is null and party_organisation_code is null
                          and party_tax_number is null then 'no identifier delivered' end
            )
        end as unresolved_reason

    from matched

)

select * from final
