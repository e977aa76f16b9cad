-- The register's legacy identifiers by index, as stg_registration__subjects gives them: the
-- organisation code without its hyphen and USCC positions 9-17. A night looks up every register
-- entry that names one of tonight's changed identifiers (int_subject__identifier_map) through
-- these and registration_regno, instead of deriving every identifier of the whole register: at
-- 10M records (2M subjects) that derivation met a misestimated join and ran for minutes.
create index if not exists registration_orgcode_clean on raw.registration ((replace(organisation_code, '-', '')));
create index if not exists registration_uscc_orgcode on raw.registration ((substr(uscc, 9, 9)));
