-- The publish step swaps schemas marts <-> marts_candidate as role transformer (which owns both).
-- Renaming a schema needs CREATE on the database as well as ownership; nothing else changes.
do $$
begin
  execute format('grant create on database %I to transformer', current_database());
end $$;
