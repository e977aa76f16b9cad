{#- Which in-force records of a subject a grade metric counts (macros/credit_grade_metrics.sql
    names the metrics; models/marts/subject_credit_profile.sql counts them). Used to trace each
    rule that fired to the records that made it fire (subject_grade_evidence). A metric with no
    record behind it (adverse_active = 0) matches nothing. -#}
{% macro grade_metric_evidence(metric) -%}
    case {{ metric }}
        when 'records_in_force' then true
        when 'adverse_active' then severity in ('minor', 'ordinary', 'serious')
        when 'positive_active' then severity = 'positive'
        when 'penalty_active' then feed = 'penalty'
        when 'serious_penalty_active' then feed = 'penalty' and severity = 'serious'
        when 'dishonest_judgment_debtor_active' then record_type = 'judicial.dishonest'
        when 'consumption_restricted_active' then record_type = 'judicial.restricted'
        when 'major_tax_violation_active' then record_type = 'tax.major_violation'
        when 'serious_social_insurance_active' then record_type = 'social_insurance.serious'
        when 'arrears_active' then feed = 'social_insurance'
        when 'joint_discipline_active' then joint_discipline
        when 'tax_rating_a' then record_type like 'tax.rating%'
        when 'tax_rating_c' then record_type like 'tax.rating%'
        when 'tax_rating_d' then record_type like 'tax.rating%'
        else false
    end
{%- endmacro %}
