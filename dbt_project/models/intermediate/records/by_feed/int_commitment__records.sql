-- One credit record per commitment (accepting department + commitment number); the row with the
-- latest update time wins. The fulfilment status decides the catalogue item: a commitment still
-- running (履约中) and a kept one (已履约) are public commitment information, a kept one positive;
-- a broken one (未履约) is dishonesty information published from the day the department found it.
with

commitments as (

    {{ rows_of_changed_keys(ref('stg_commitment__commitments'), ['acceptor_code', 'commitment_number']) }}

),

latest as (

    {{ latest_version('commitments', ['acceptor_code', 'commitment_number'], ['updated_at desc', 'batch_id desc', 'source_row desc']) }}

),

final as (

    select
        {{ record_id('commitment', ['acceptor_code', 'commitment_number']) }} as record_id,
        'commitment' as feed,
        'raw.commitment' as source_table,
        array[acceptor_code, commitment_number] as natural_key,
        case fulfilment_status
            when '未履约' then 'commitment.broken'
            when '已履约' then 'commitment.kept'
            else 'commitment.made'
        end as record_type,
        party_name,
        case when party_type = '自然人' then 'natural_person' else 'organisation' end as party_category,
        party_uscc,
        null::text as party_registration_number,
        null::text as party_organisation_code,
        null::text as party_tax_number,
        case when party_type = '自然人' then party_key end as party_person_key,
        case when party_type = '自然人' then party_card_masked_or_uscc end as party_id_masked,
        null::text as severity,
        case when fulfilment_status = '未履约' then coalesce(broken_on, updated_at::date) else committed_on end
            as decision_date,
        case when fulfilment_status = '未履约' then coalesce(broken_on, updated_at::date) else committed_on end
            as publicity_start,
        null::date as declared_publicity_end,
        null::date as ended_on,
        'active' as source_status,
        updated_at::date as source_status_since,
        acceptor_name as authority_name,
        concat_ws('；', commitment_type, commitment_content, '承诺期限 ' || due_on, fulfilment_status) as summary,
        batch_id,
        source_file,
        source_row,
        {{ dbt.current_timestamp() }} as built_at

    from latest

)

select * from final
