{#- Mask what may be a clear personal ID inside free text before analysts or the public see it:
    a standalone run of 18 characters (17 digits + digit/X) or 15 digits, as the marts' quality
    gate detects it (credit_dw.quality.masking.CLEAR_ID_REGEX), keeping the first and last four as
    published lists do. All-digit organisation numbers of those lengths are masked too: in free
    text, over-masking is the safe side. -#}
{% macro mask_person_ids(expr) -%}
    regexp_replace(
        regexp_replace(
            {{ expr }},
            '(?<![0-9A-Za-z])([0-9]{4})[0-9]{10}([0-9]{3}[0-9Xx])(?![0-9A-Za-z])',
            '\1**********\2',
            'g'
        ),
        '(?<![0-9A-Za-z])([0-9]{4})[0-9]{7}([0-9]{4})(?![0-9A-Za-z])',
        '\1*******\2',
        'g'
    )
{%- endmacro %}
