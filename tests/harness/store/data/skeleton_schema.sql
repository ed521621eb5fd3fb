-- The schema the walking skeleton's create_all made in SQLite (harness/store/models.py at
-- commit 6bc9483), kept to test that such a database upgrades cleanly.
CREATE TABLE encoders (
	id VARCHAR(200) NOT NULL, 
	"group" VARCHAR(50) NOT NULL, 
	supervision VARCHAR(50) NOT NULL, 
	architecture VARCHAR(50) NOT NULL, 
	resolution INTEGER NOT NULL, 
	params INTEGER NOT NULL, 
	loader VARCHAR(100) NOT NULL, 
	source VARCHAR(500) NOT NULL, 
	weights VARCHAR(500), 
	distribution VARCHAR(200) NOT NULL, 
	distribution_version VARCHAR(50) NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE runs (
	"key" VARCHAR(64) NOT NULL, 
	encoder_id VARCHAR(200) NOT NULL, 
	tiny BOOLEAN NOT NULL, 
	smoke BOOLEAN NOT NULL, 
	recipe VARCHAR(100) NOT NULL, 
	llm VARCHAR(200) NOT NULL, 
	connector VARCHAR(100) NOT NULL, 
	seed INTEGER NOT NULL, 
	preset VARCHAR(100) NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	config JSON NOT NULL, 
	started_at DATETIME, 
	finished_at DATETIME, 
	wall_seconds FLOAT NOT NULL, 
	host VARCHAR(200) NOT NULL, 
	job_id VARCHAR(100) NOT NULL, 
	code_version VARCHAR(100) NOT NULL, 
	error TEXT, 
	record_hash VARCHAR(64) NOT NULL, 
	ingested_at DATETIME NOT NULL, 
	PRIMARY KEY ("key"), 
	FOREIGN KEY(encoder_id) REFERENCES encoders (id)
);
CREATE INDEX ix_runs_smoke ON runs (smoke);
CREATE INDEX ix_runs_status ON runs (status);
CREATE INDEX ix_runs_encoder_id ON runs (encoder_id);
CREATE TABLE scores (
	id INTEGER NOT NULL, 
	run_key VARCHAR(64) NOT NULL, 
	benchmark VARCHAR(100) NOT NULL, 
	category VARCHAR(50) NOT NULL, 
	metric VARCHAR(100) NOT NULL, 
	subset VARCHAR(200) NOT NULL, 
	value FLOAT NOT NULL, 
	n INTEGER NOT NULL, 
	chance FLOAT, 
	benchmark_version VARCHAR(50) NOT NULL, 
	prompt_hash VARCHAR(64) NOT NULL, 
	label_patch VARCHAR(100) NOT NULL, 
	dataset_hash VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_scores_run_metric UNIQUE (run_key, benchmark, metric, subset), 
	FOREIGN KEY(run_key) REFERENCES runs ("key") ON DELETE CASCADE
);
CREATE INDEX ix_scores_benchmark_subset ON scores (benchmark, subset);
CREATE INDEX ix_scores_run_key ON scores (run_key);
