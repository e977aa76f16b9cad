{#- The profile metrics credit grade rules may name (seeds/credit_grade_rules.csv `metric`).
    One list, used to unpivot the profile and by the test that every rule names a known metric. -#}
{% macro credit_grade_metrics() -%}
    {{ return([
        'records_in_force',
        'adverse_active',
        'positive_active',
        'penalty_active',
        'serious_penalty_active',
        'dishonest_judgment_debtor_active',
        'consumption_restricted_active',
        'major_tax_violation_active',
        'serious_social_insurance_active',
        'arrears_active',
        'joint_discipline_active',
        'tax_rating_a',
        'tax_rating_c',
        'tax_rating_d',
    ]) }}
{%- endmacro %}
