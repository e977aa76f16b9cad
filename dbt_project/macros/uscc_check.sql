{#- GB 32100-2015 check character in SQL, so dbt tests assert the same rule as ingestion
    (credit_dw.identifiers.is_valid_uscc): symbols 0-9 A-H J-N P-R T U W-Y valued 0-30,
    weights 3^(i-1) mod 31, c18 = (31 - sum mod 31) mod 31. -#}
{% macro uscc_is_valid(expr) -%}
    (
        {{ expr }} ~ '^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$'
        and (
            select (31 - sum(
                        (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr({{ expr }}, i, 1)) - 1)
                        * (power(3, i - 1)::bigint % 31)
                    ) % 31) % 31
            from generate_series(1, 17) as i
        ) = strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr({{ expr }}, 18, 1)) - 1
    )
{%- endmacro %}
