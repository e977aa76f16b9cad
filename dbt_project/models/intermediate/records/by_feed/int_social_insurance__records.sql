-- One credit record per arrears document (department + document number + insurance type); the
-- row with the latest update date wins. The document type decides the catalogue item. 已撤销
-- revokes any document. Full payment (已补缴) ends only a 限期缴纳通知 (the notice asked for
-- nothing else); a 行政处罚决定 or 严重失信名单认定 stays published for its minimum period and ends
-- through credit repair (payment is what makes the subject eligible: source_status 'paid'), never by
-- the payment itself.
with

arrears as (

    {{ rows_of_changed_keys(ref('stg_social_insurance__arrears'), ['department_code', 'document_number', 'insurance_type']) }}

),

latest as (

    {{ latest_version('arrears', ['department_code', 'document_number', 'insurance_type'], ['updated_on desc', 'batch_id desc', 'source_row desc']) }}

),

final as (

    select
        {{ record_id('social_insurance', ['department_code', 'document_number', 'insurance_type']) }} as record_id,
        'social_insurance' as feed,
        'raw.social_insurance_arrears' as source_table,
        array[department_code, document_number, insurance_type] as natural_key,
        case document_type
            when '严重失信名单认定' then 'social_insurance.serious'
            when '行政处罚决定' then 'social_insurance.penalty'
            else 'social_insurance.notice'
        end as record_type,
        unit_name as party_name,
        'organisation' as party_category,
        uscc as party_uscc,
        null::text as party_registration_number,
        null::text as party_organisation_code,
        null::text as party_tax_number,
        null::text as party_person_key,
        null::text as party_id_masked,
        null::text as severity,
        decision_date,
        decision_date as publicity_start,
        null::date as declared_publicity_end,
        case
            when arrears_status = '已撤销' then updated_on
            when arrears_status = '已补缴' and document_type = '限期缴纳通知' then updated_on
        end as ended_on,
        case
            when arrears_status = '已撤销' then 'revoked'
            when arrears_status = '已补缴' and document_type = '限期缴纳通知' then 'removed'
            -- paid: still in force, and now eligible for credit repair (credit_dw.governance)
            when arrears_status = '已补缴' then 'paid'
            else 'active'
        end as source_status,
        updated_on as source_status_since,
        department_name as authority_name,
        concat_ws('；', insurance_type, document_type, '欠缴金额 ' || arrears_cny || ' 元', arrears_status) as summary,
        batch_id,
        source_file,
        source_row,
        {{ dbt.current_timestamp() }} as built_at

    from latest

)

select * from final
