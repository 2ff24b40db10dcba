-- 0006_operational_events: the operational events the dispatcher causes,
-- recorded in the transaction of what they report and kept until they have
-- become messages of the operational application (see
-- hookbridge.OperationalEvent). data is the event as JSON; ids sort by time.
CREATE TABLE operational_events (
    id   TEXT NOT NULL PRIMARY KEY,
    data TEXT NOT NULL
) STRICT;
