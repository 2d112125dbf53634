-- How many recipients an alert had at creation (§12.4 `targeted`), stored with the alert in its
-- transaction. An emergency's recipient rows (one per member) are written right after the commit,
-- while the node fans the alert out; a status read on another node in those milliseconds must
-- still report every member. NULL for alerts created before this column: their rows are counted.
ALTER TABLE "alerts" ADD COLUMN "targeted" integer;
