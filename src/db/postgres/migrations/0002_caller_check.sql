-- The caller check of Store.as(caller) (PgExecutor.callerCheck): a statement made for a signed-in
-- caller carries `app_caller(...)` in its WHERE, so checking the account costs no round trip of its
-- own. It takes no column, so PostgreSQL evaluates it once, before the statement reads or writes a
-- row, and raises when the caller may not act: AU401 when the user is gone or disabled or the
-- session ended or expired (a session rotated by a refresh counts as its live successor, as in
-- users.getForSession), AU403 when the user lacks `p_role` (the message is that role). `p_now` is the application's clock, as
-- everywhere else.
create function app_caller(p_user uuid, p_session uuid, p_role text, p_now timestamptz) returns boolean
language plpgsql stable as $$
declare
  found_role text;
begin
  select u.role into found_role
  from sessions s join users u on u.id = s.user_id left join sessions r on r.id = s.replaced_by
  where s.id = p_session and u.id = p_user and u.deleted_at is null and not u.disabled
    and ((s.revoked_at is null and s.expires_at > p_now)
      or (r.user_id = s.user_id and r.revoked_at is null and r.expires_at > p_now));
  if not found then
    raise exception using errcode = 'AU401', message = 'the caller is not signed in';
  end if;
  if p_role is not null and found_role <> p_role then
    raise exception using errcode = 'AU403', message = p_role;
  end if;
  return true;
end
$$;
