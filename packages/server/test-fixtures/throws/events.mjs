throw new Error("database not configured");
