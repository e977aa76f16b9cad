{#- Mask anything shaped like a resident ID (GB 11643: 6-digit area, 19xx/20xx birth date,
    sequence, check) inside free text before it is published: first 4 and last 4 kept, as
    published lists show it. USCCs do not match (no birth date at positions 7-14). -#}
{% macro mask_person_ids(expr) -%}
    regexp_replace(
        {{ expr }},
        '([1-9][0-9]{3})[0-9]{2}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])([0-9]{3}[0-9Xx])',
        '\1**********\2',
        'g'
    )
{%- endmacro %}
