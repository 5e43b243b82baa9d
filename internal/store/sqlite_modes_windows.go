package store

// sqliteModes changes nothing on Windows: there a file SQLite holds open
// cannot be changed (a sharing violation), and none needs to be. Files have
// no Unix modes; the database file got a private DACL when openSQLite
// created it, and the -wal and -shm files inherit the DACL of the
// directory, which keyprep creates private and checks
// (fileguard.MkdirAll, fileguard.Check).
func sqliteModes(string) error { return nil }
