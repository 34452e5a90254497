CREATE TABLE IF NOT EXISTS medrec_placeholder (x int);
