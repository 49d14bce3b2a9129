-- A held subject's id is compared byte for byte, as on PostgreSQL and SQLite: under the
-- server's default case-insensitive collation a hold on `ABC` replaced the hold on `abc`,
-- and lifting one lifted the other. (`utf8mb4_bin` still ignores trailing spaces.) sqlx
-- reads a binary-collated column as VARBINARY: the tool reads it as `CAST(… AS CHAR)`.
ALTER TABLE retention_holds MODIFY subject VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
