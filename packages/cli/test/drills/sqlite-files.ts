// SQLite's own verdict on a database file a drill left behind (the server stopped first).
import Database from 'better-sqlite3';

/** `PRAGMA integrity_check`: "ok", or SQLite's list of what is wrong. */
export function integrityCheck(path: string): string {
  const db = new Database(path, { fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    return rows.map((row) => row.integrity_check).join('; ');
  } finally {
    db.close();
  }
}
