-- explain / report subject look an organisation up by its USCC in the subject versions: by index,
-- not by a scan of every version of every subject (20 million subjects in a large province).
create index mart_row_version_uscc on history.mart_row_version ((content ->> 'uscc'))
    where mart = 'dim_credit_subject';
