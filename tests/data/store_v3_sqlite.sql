-- A scalinglab run store at schema version 3 (commit 3ed1aa8), dumped with sqlite3 iterdump.
-- Frozen on purpose: tests/test_migrations.py checks that today's code opens and upgrades it to v4.
BEGIN TRANSACTION;
CREATE TABLE attempts (
	id INTEGER NOT NULL, 
	run_id VARCHAR(64) NOT NULL, 
	attempt INTEGER NOT NULL, 
	worker VARCHAR(200) NOT NULL, 
	host VARCHAR(200), 
	pid INTEGER, 
	started_at VARCHAR(32) NOT NULL, 
	ended_at VARCHAR(32), 
	outcome VARCHAR(16) NOT NULL, 
	resumed_from_step BIGINT, 
	error TEXT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_attempts_run_attempt UNIQUE (run_id, attempt), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);
INSERT INTO "attempts" VALUES(1,'0123456789abcdef',1,'old:1:x','old',1,'2026-12-06T07:26:27+00:00','2026-12-06T07:26:27+00:00','done',NULL,NULL);
CREATE TABLE evaluations (
	id INTEGER NOT NULL, 
	run_id VARCHAR(64) NOT NULL, 
	branch VARCHAR(64) NOT NULL, 
	step BIGINT NOT NULL, 
	split VARCHAR(16) NOT NULL, 
	params BIGINT NOT NULL, 
	tokens BIGINT NOT NULL, 
	flops FLOAT NOT NULL, 
	loss_nats FLOAT NOT NULL, 
	loss_bpb FLOAT, 
	is_final BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_evaluations_point UNIQUE (run_id, branch, step, split), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);
INSERT INTO "evaluations" VALUES(1,'0123456789abcdef','',100,'val',123456,100000,74073600000.0,2.5,3.60673760222240868955e+00,1);
CREATE TABLE logs (
	id INTEGER NOT NULL, 
	run_id VARCHAR(64), 
	at VARCHAR(32) NOT NULL, 
	level VARCHAR(10) NOT NULL, 
	message TEXT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "logs" VALUES(1,'0123456789abcdef','2026-12-06T07:26:27+00:00','info','done');
CREATE TABLE metrics (
	id INTEGER NOT NULL, 
	run_id VARCHAR(64) NOT NULL, 
	step BIGINT NOT NULL, 
	split VARCHAR(16) NOT NULL, 
	branch VARCHAR(64) NOT NULL, 
	tokens BIGINT NOT NULL, 
	loss_nats FLOAT, 
	loss_bpb FLOAT, 
	lr FLOAT, 
	wall_seconds FLOAT, 
	tokens_per_second FLOAT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_metrics_point UNIQUE (run_id, step, split, branch), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);
INSERT INTO "metrics" VALUES(1,'0123456789abcdef',50,'val','',50000,2.5,NULL,0.001,NULL,NULL);
INSERT INTO "metrics" VALUES(2,'0123456789abcdef',100,'val','',100000,2.0,NULL,0.001,NULL,NULL);
INSERT INTO "metrics" VALUES(3,'0123456789abcdef',100,'train','',100000,2.4,NULL,0.001,NULL,NULL);
CREATE TABLE runs (
	id VARCHAR(64) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	sweep VARCHAR(200) NOT NULL, 
	config TEXT NOT NULL, 
	dataset VARCHAR(200) NOT NULL, 
	params BIGINT, 
	param_convention VARCHAR(40), 
	params_by_convention TEXT, 
	flops_convention VARCHAR(40), 
	flops_per_token FLOAT, 
	tokens_planned BIGINT, 
	flops_planned FLOAT, 
	status VARCHAR(16) NOT NULL, 
	lease_owner VARCHAR(200), 
	heartbeat_at FLOAT, 
	attempts INTEGER NOT NULL, 
	created_at VARCHAR(32), 
	started_at VARCHAR(32), 
	finished_at VARCHAR(32), 
	wall_seconds FLOAT, 
	tokens_per_second FLOAT, 
	flops_per_second FLOAT, 
	final_loss_nats FLOAT, 
	final_loss_bpb FLOAT, 
	error TEXT, 
	environment TEXT, 
	PRIMARY KEY (id)
);
INSERT INTO "runs" VALUES('0123456789abcdef','v3-done','legacy','{"arch": {"d_model": 32, "n_layer": 2}}','markov',123456,'non_embedding','{"non_embedding": 123456}','6N',740736.0,100000,74073600000.0,'done',NULL,1.79654198705496644973e+09,1,'2026-12-06T07:26:27+00:00','2026-12-06T07:26:27+00:00','2026-12-06T07:26:27+00:00',1.0,NULL,NULL,NULL,NULL,NULL,'{"host": "h"}');
INSERT INTO "runs" VALUES('fedcba9876543210','v3-queued','legacy','{"arch": {"d_model": 16, "n_layer": 1}}','markov',9000,'non_embedding','{"non_embedding": 9000}','6N',54000.0,50000,2700000000.0,'queued',NULL,NULL,0,'2026-12-06T07:26:27+00:00',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
CREATE TABLE schema_version (
	version INTEGER NOT NULL, 
	applied_at VARCHAR(32) NOT NULL, 
	PRIMARY KEY (version)
);
INSERT INTO "schema_version" VALUES(3,'2026-12-06T07:26:27+00:00');
CREATE INDEX ix_runs_sweep_status ON runs (sweep, status);
CREATE INDEX ix_logs_run_id ON logs (run_id);
CREATE INDEX ix_metrics_run_id ON metrics (run_id);
CREATE INDEX ix_evaluations_run_id ON evaluations (run_id);
CREATE INDEX ix_attempts_run_id ON attempts (run_id);
COMMIT;
