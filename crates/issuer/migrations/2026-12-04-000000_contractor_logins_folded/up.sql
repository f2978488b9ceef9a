-- Contractor logins are now read as the service reads staff logins
-- (kakunin_platform::login::typed: full width as ASCII, blanks trimmed, lower case),
-- at sign-in and at `contractor add`, so `BUNGO` and `ＢＵＮＧＯ` sign in as `bungo`.
-- A login stored until now with capitals or blanks is folded alike so that it can
-- still sign in; one whose folded form another contractor already has is left as it
-- was (its owner then signs in as before only by its exact ASCII spelling, which now
-- folds to the other's: the operator must rename one of the two).
UPDATE contractors
SET login = lower(trim(login))
WHERE login <> lower(trim(login))
  AND NOT EXISTS (
    SELECT 1 FROM contractors AS other
    WHERE other.id <> contractors.id AND other.login = lower(trim(contractors.login))
  );
