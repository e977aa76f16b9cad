-- Every credit grade rule must name a metric the profile computes; a typo would otherwise make
-- the rule silently never match.
select rules.rule_code, rules.metric
from {{ ref('credit_grade_rules') }} as rules
where rules.metric not in (
    {%- for metric in credit_grade_metrics() %}'{{ metric }}'{% if not loop.last %}, {% endif %}{% endfor -%}
)
