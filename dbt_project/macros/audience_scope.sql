{#- One disclosure audience's rows of disclosure_register (see docs/security.md):
    - what is published today, to everybody;
    - beyond that, records whose public attribute ranks at most the audience's
      (actively_public 1, on_application 2, authorised_query 3, government_sharing 4);
      government sharing also sees actively public records that are not published;
    - never a natural person's record beyond what is published: those are reached one person
      at a time through disclosure.lookup_person, which logs the lookup (Art. 8). -#}
{% macro audience_scope(max_rank) -%}
select
    record_id,
    catalogue_item,
    item_name,
    public_attribute,
    subject_category,
    uscc,
    subject_name,
    id_masked,
    severity,
    decision_date,
    publicity_start,
    publicity_end,
    status,
    is_disputed,
    authority_name,
    summary,
    disclosed_as_of

from {{ ref('disclosure_register') }}
where is_published
{%- if max_rank > 1 %}
   or (
        subject_category is distinct from 'natural_person'
        and (audience_rank between 2 and {{ max_rank }}{% if max_rank >= 4 %} or audience_rank = 1{% endif %})
   )
{%- endif %}
{%- endmacro %}
