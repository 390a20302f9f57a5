BEGIN TRANSACTION;
CREATE TABLE analytics_kiosk_days (
	day DATE NOT NULL, 
	store VARCHAR(64) NOT NULL, 
	kiosk VARCHAR(64) NOT NULL, 
	taps BIGINT NOT NULL, 
	visits BIGINT NOT NULL, 
	ended BIGINT NOT NULL, 
	dwell_s BIGINT NOT NULL, 
	PRIMARY KEY (day, store, kiosk)
);
INSERT INTO "analytics_kiosk_days" VALUES('2026-12-02','store-01','kiosk-01',1,1,0,0);
CREATE TABLE analytics_kiosk_spans (
	store VARCHAR(64) NOT NULL, 
	kiosk VARCHAR(64) NOT NULL, 
	started_at DATETIME NOT NULL, 
	last_seen DATETIME NOT NULL, 
	ended BOOLEAN NOT NULL, 
	PRIMARY KEY (store, kiosk, started_at)
);
CREATE TABLE analytics_offer_days (
	day DATE NOT NULL, 
	store VARCHAR(64) NOT NULL, 
	offer VARCHAR(48) NOT NULL, 
	taps BIGINT NOT NULL, 
	saves BIGINT NOT NULL, 
	redemptions BIGINT NOT NULL, 
	PRIMARY KEY (day, store, offer)
);
CREATE TABLE analytics_product_days (
	day DATE NOT NULL, 
	store VARCHAR(64) NOT NULL, 
	sku VARCHAR(32) NOT NULL, 
	taps BIGINT NOT NULL, 
	visits BIGINT NOT NULL, 
	wishlisted BIGINT NOT NULL, 
	reserved BIGINT NOT NULL, 
	ordered BIGINT NOT NULL, 
	suggestion_taps BIGINT NOT NULL, 
	PRIMARY KEY (day, store, sku)
);
INSERT INTO "analytics_product_days" VALUES('2026-12-02','store-01','BOOT-CHELSEA-BLK',1,1,1,1,0,0);
CREATE TABLE analytics_shown_days (
	day DATE NOT NULL, 
	store VARCHAR(64) NOT NULL, 
	sku VARCHAR(32) NOT NULL, 
	shown BIGINT NOT NULL, 
	PRIMARY KEY (day, store, sku)
);
CREATE TABLE analytics_store_days (
	day DATE NOT NULL, 
	store VARCHAR(64) NOT NULL, 
	visits BIGINT NOT NULL, 
	signed_in BIGINT NOT NULL, 
	consented BIGINT NOT NULL, 
	ended BIGINT NOT NULL, 
	dwell_s BIGINT NOT NULL, 
	handoffs BIGINT NOT NULL, 
	shown BIGINT NOT NULL, 
	suggestion_taps BIGINT NOT NULL, 
	reached_tap BIGINT NOT NULL, 
	reached_suggestion BIGINT NOT NULL, 
	reached_kept BIGINT NOT NULL, 
	reached_order BIGINT NOT NULL, 
	suggested BIGINT NOT NULL, 
	converted BIGINT NOT NULL, 
	suggested_converted BIGINT NOT NULL, 
	PRIMARY KEY (day, store)
);
INSERT INTO "analytics_store_days" VALUES('2026-12-02','store-01',1,1,1,0,0,0,0,0,1,0,0,0,0,1,0);
CREATE TABLE analytics_store_hours (
	day DATE NOT NULL, 
	store VARCHAR(64) NOT NULL, 
	hour SMALLINT NOT NULL, 
	taps BIGINT NOT NULL, 
	visits BIGINT NOT NULL, 
	PRIMARY KEY (day, store, hour)
);
INSERT INTO "analytics_store_hours" VALUES('2026-12-02','store-01',13,1,1);
CREATE TABLE analytics_stores (
	store VARCHAR(64) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	time_zone VARCHAR(64) NOT NULL, 
	opening_hours TEXT, 
	PRIMARY KEY (store)
);
CREATE TABLE analytics_visit_products (
	session VARCHAR(36) NOT NULL, 
	sku VARCHAR(32) NOT NULL, 
	store VARCHAR(64) NOT NULL, 
	day DATE NOT NULL, 
	wishlisted BOOLEAN NOT NULL, 
	reserved BOOLEAN NOT NULL, 
	ordered BOOLEAN NOT NULL, 
	PRIMARY KEY (session, sku)
);
INSERT INTO "analytics_visit_products" VALUES('18e65635-5368-4504-a934-2eec9e3905ff','BOOT-CHELSEA-BLK','store-01','2026-12-02',1,1,0);
CREATE TABLE analytics_visits (
	session VARCHAR(36) NOT NULL, 
	store VARCHAR(64) NOT NULL, 
	kiosk VARCHAR(64) NOT NULL, 
	day DATE NOT NULL, 
	hour SMALLINT NOT NULL, 
	started_at DATETIME NOT NULL, 
	profile_key VARCHAR(160), 
	viewed BOOLEAN NOT NULL, 
	suggested BOOLEAN NOT NULL, 
	kept BOOLEAN NOT NULL, 
	ordered BOOLEAN NOT NULL, 
	signed_in BOOLEAN NOT NULL, 
	consented BOOLEAN NOT NULL, 
	ended BOOLEAN NOT NULL, 
	dwell_s INTEGER, 
	PRIMARY KEY (session)
);
INSERT INTO "analytics_visits" VALUES('18e65635-5368-4504-a934-2eec9e3905ff','store-01','kiosk-01','2026-12-02',13,'2026-12-02 13:46:08.632281','shopper:shopper-0001',1,0,1,0,1,1,0,NULL);
CREATE TABLE card_visits (
	session VARCHAR(36) NOT NULL, 
	store VARCHAR(64) NOT NULL, 
	kiosk VARCHAR(64) NOT NULL, 
	profile_key VARCHAR(160) NOT NULL, 
	verified_at DATETIME NOT NULL, 
	PRIMARY KEY (session)
);
CREATE TABLE change_cursor (
	id INTEGER NOT NULL, 
	value BIGINT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "change_cursor" VALUES(1,5);
CREATE TABLE changes (
	cursor BIGINT NOT NULL, 
	shopper VARCHAR(128) NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	store VARCHAR(64) NOT NULL, 
	kiosk VARCHAR(64) NOT NULL, 
	at DATETIME NOT NULL, 
	fields JSON NOT NULL, 
	PRIMARY KEY (cursor)
);
INSERT INTO "changes" VALUES(1,'shopper-0001','consent','store-01','kiosk-01','2026-12-02 13:46:08.632281','{"consent": "granted", "hlc": "001790000000000-000000-kiosk-01"}');
INSERT INTO "changes" VALUES(2,'shopper-0001','product_view','store-01','kiosk-01','2026-12-02 13:46:08.632766','{"sku": "BOOT-CHELSEA-BLK"}');
INSERT INTO "changes" VALUES(3,'shopper-0001','wishlist_add','store-01','kiosk-01','2026-12-02 13:46:08.632849','{"sku": "BOOT-CHELSEA-BLK", "hlc": "001790000000001-000000-kiosk-01"}');
INSERT INTO "changes" VALUES(4,'shopper-0001','order_placed','online','web','2026-11-30 12:00:00.000000','{"order": "web-1001", "lines": "1", "total": "129.00"}');
INSERT INTO "changes" VALUES(5,'shopper-0001','reservation','online','web','2026-12-02 13:46:08.682166','{"reservation": "c33c96afa7214ed182939e2e5816f617", "state": "held", "sku": "BOOT-CHELSEA-BLK", "size": "41", "store": "store-01"}');
CREATE TABLE consents (
	profile_key VARCHAR(160) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	hlc VARCHAR(90) NOT NULL, 
	session VARCHAR(36), 
	channel VARCHAR(64) NOT NULL, 
	at DATETIME NOT NULL
);
INSERT INTO "consents" VALUES('shopper:shopper-0001','granted','001790000000000-000000-kiosk-01','18e65635-5368-4504-a934-2eec9e3905ff','kiosk:kiosk-01','2026-12-02 13:46:08.632875');
CREATE TABLE coupons (
	profile_key VARCHAR(160) NOT NULL, 
	offer_id VARCHAR(48) NOT NULL, 
	saved_at DATETIME NOT NULL, 
	hlc VARCHAR(90) NOT NULL, 
	channel VARCHAR(64) NOT NULL, 
	PRIMARY KEY (profile_key, offer_id)
);
CREATE TABLE display_names (
	profile_key VARCHAR(160) NOT NULL, 
	display_name VARCHAR(64) NOT NULL, 
	hlc VARCHAR(90) NOT NULL, 
	PRIMARY KEY (profile_key)
);
CREATE TABLE erased (
	shopper_hash VARCHAR(64) NOT NULL, 
	erased_at DATETIME NOT NULL, 
	PRIMARY KEY (shopper_hash)
);
CREATE TABLE events (
	event_id VARCHAR(36) NOT NULL, 
	profile_key VARCHAR(160) NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	store VARCHAR(64) NOT NULL, 
	kiosk VARCHAR(64) NOT NULL, 
	seq BIGINT NOT NULL, 
	session VARCHAR(36) NOT NULL, 
	sku VARCHAR(32), 
	detail VARCHAR(400), 
	at DATETIME NOT NULL, 
	received_at DATETIME NOT NULL, 
	PRIMARY KEY (event_id)
);
INSERT INTO "events" VALUES('f6354e51-ed29-406f-8810-4b416ba52dd5','shopper:shopper-0001','consent','store-01','kiosk-01',1,'18e65635-5368-4504-a934-2eec9e3905ff',NULL,'granted','2026-12-02 13:46:08.632281','2026-12-02 13:46:08.632875');
INSERT INTO "events" VALUES('5c7e4367-aab1-4cd8-9d0c-c854fffb4063','shopper:shopper-0001','product_view','store-01','kiosk-01',2,'18e65635-5368-4504-a934-2eec9e3905ff','BOOT-CHELSEA-BLK',NULL,'2026-12-02 13:46:08.632766','2026-12-02 13:46:08.632875');
INSERT INTO "events" VALUES('64559f13-5062-4b56-899e-ba5991ced1ac','shopper:shopper-0001','wishlist_add','store-01','kiosk-01',3,'18e65635-5368-4504-a934-2eec9e3905ff','BOOT-CHELSEA-BLK',NULL,'2026-12-02 13:46:08.632849','2026-12-02 13:46:08.632875');
CREATE TABLE live_revision (
	id INTEGER NOT NULL, 
	value BIGINT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "live_revision" VALUES(1,2);
CREATE TABLE offers (
	offer_id VARCHAR(48) NOT NULL, 
	body TEXT NOT NULL, 
	starts DATETIME NOT NULL, 
	ends DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (offer_id)
);
CREATE TABLE order_lines (
	order_id VARCHAR(64) NOT NULL, 
	line INTEGER NOT NULL, 
	sku VARCHAR(32) NOT NULL, 
	size VARCHAR(32) NOT NULL, 
	quantity INTEGER NOT NULL, 
	unit_price NUMERIC(12, 2) NOT NULL, 
	flag VARCHAR(32), 
	PRIMARY KEY (order_id, line)
);
INSERT INTO "order_lines" VALUES('web-1001',1,'BOOT-CHELSEA-BLK','41',1,129,NULL);
CREATE TABLE orders (
	order_id VARCHAR(64) NOT NULL, 
	profile_key VARCHAR(160), 
	channel VARCHAR(64) NOT NULL, 
	store VARCHAR(64) NOT NULL, 
	at DATETIME NOT NULL, 
	recorded_by VARCHAR(64) NOT NULL, 
	received_at DATETIME NOT NULL, 
	PRIMARY KEY (order_id)
);
INSERT INTO "orders" VALUES('web-1001','shopper:shopper-0001','web','online','2026-11-30 12:00:00.000000','','2026-12-02 13:46:08.670687');
CREATE TABLE preferences (
	profile_key VARCHAR(160) NOT NULL, 
	"key" VARCHAR(32) NOT NULL, 
	value VARCHAR(256) NOT NULL, 
	hlc VARCHAR(90) NOT NULL, 
	PRIMARY KEY (profile_key, "key")
);
CREATE TABLE presence (
	shopper VARCHAR(128) NOT NULL, 
	store VARCHAR(64) NOT NULL, 
	kiosk VARCHAR(64) NOT NULL, 
	session VARCHAR(36) NOT NULL, 
	since DATETIME NOT NULL, 
	until DATETIME NOT NULL, 
	PRIMARY KEY (shopper)
);
CREATE TABLE profiles (
	profile_key VARCHAR(160) NOT NULL, 
	shopper VARCHAR(128), 
	created_at DATETIME NOT NULL, 
	last_seen DATETIME NOT NULL, 
	PRIMARY KEY (profile_key)
);
INSERT INTO "profiles" VALUES('shopper:shopper-0001','shopper-0001','2026-12-02 13:46:08.632875','2026-12-02 13:46:08.632875');
CREATE TABLE push_cursors (
	name VARCHAR(64) NOT NULL, 
	cursor BIGINT NOT NULL, 
	PRIMARY KEY (name)
);
CREATE TABLE redemptions (
	redemption_id VARCHAR(36) NOT NULL, 
	profile_key VARCHAR(160) NOT NULL, 
	offer_id VARCHAR(48) NOT NULL, 
	number INTEGER NOT NULL, 
	idempotency_key VARCHAR(200) NOT NULL, 
	channel VARCHAR(64) NOT NULL, 
	redeemed_at DATETIME NOT NULL, 
	PRIMARY KEY (redemption_id), 
	CONSTRAINT redemptions_number UNIQUE (profile_key, offer_id, number), 
	CONSTRAINT redemptions_idempotency_key UNIQUE (profile_key, offer_id, idempotency_key)
);
CREATE TABLE reservations (
	reservation_id VARCHAR(32) NOT NULL, 
	store VARCHAR(64) NOT NULL, 
	sku VARCHAR(32) NOT NULL, 
	size VARCHAR(32) NOT NULL, 
	profile_key VARCHAR(160), 
	kind VARCHAR(16) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	note VARCHAR(100), 
	channel VARCHAR(64) NOT NULL, 
	kiosk VARCHAR(64), 
	session VARCHAR(36), 
	request_id VARCHAR(32), 
	revision BIGINT NOT NULL, 
	created_at DATETIME NOT NULL, 
	expires_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (reservation_id), 
	UNIQUE (request_id)
);
INSERT INTO "reservations" VALUES('c33c96afa7214ed182939e2e5816f617','store-01','BOOT-CHELSEA-BLK','41','shopper:shopper-0001','collect','held',NULL,'web',NULL,NULL,NULL,2,'2026-12-02 13:46:08.682166','2026-12-04 13:46:08.682166','2026-12-02 13:46:08.682166');
CREATE TABLE revoked_sessions (
	token_digest VARCHAR(64) NOT NULL, 
	expires_at DATETIME NOT NULL, 
	PRIMARY KEY (token_digest)
);
CREATE TABLE session_links (
	session VARCHAR(36) NOT NULL, 
	profile_key VARCHAR(160) NOT NULL, 
	PRIMARY KEY (session)
);
INSERT INTO "session_links" VALUES('18e65635-5368-4504-a934-2eec9e3905ff','shopper:shopper-0001');
CREATE TABLE stay_versions (
	shopper VARCHAR(128) NOT NULL, 
	session VARCHAR(36) NOT NULL, 
	v INTEGER NOT NULL, 
	PRIMARY KEY (shopper)
);
CREATE TABLE stock (
	store VARCHAR(64) NOT NULL, 
	sku VARCHAR(32) NOT NULL, 
	size VARCHAR(32) NOT NULL, 
	units INTEGER NOT NULL, 
	held INTEGER NOT NULL, 
	revision BIGINT NOT NULL, 
	PRIMARY KEY (store, sku, size), 
	CONSTRAINT stock_units_not_negative CHECK (units >= 0), 
	CONSTRAINT stock_held_not_negative CHECK (held >= 0)
);
INSERT INTO "stock" VALUES('store-01','BOOT-CHELSEA-BLK','40',1,0,1);
INSERT INTO "stock" VALUES('store-01','BOOT-CHELSEA-BLK','41',3,1,2);
CREATE TABLE stock_feeds (
	store VARCHAR(64) NOT NULL, 
	version BIGINT NOT NULL, 
	digest VARCHAR(64) NOT NULL, 
	channel VARCHAR(64) NOT NULL, 
	applied_at DATETIME NOT NULL, 
	PRIMARY KEY (store)
);
INSERT INTO "stock_feeds" VALUES('store-01',1,'93e15114a343bbc161ebc18e0b5b4d09d9cdf49bae1afb1df8124366116ad4d0','till','2026-12-02 13:46:08.680371');
CREATE TABLE webhook_queue (
	channel VARCHAR(64) NOT NULL, 
	cursor BIGINT NOT NULL, 
	shopper VARCHAR(128) NOT NULL, 
	attempts INTEGER NOT NULL, 
	first_tried DATETIME, 
	due DATETIME NOT NULL, 
	parked_at DATETIME, 
	problem VARCHAR(300), 
	PRIMARY KEY (channel, cursor)
);
CREATE TABLE webhooks (
	channel VARCHAR(64) NOT NULL, 
	url VARCHAR(2048) NOT NULL, 
	secret VARCHAR(128) NOT NULL, 
	created_at DATETIME NOT NULL, 
	scanned BIGINT NOT NULL, 
	delivered BIGINT NOT NULL, 
	retried BIGINT NOT NULL, 
	parked BIGINT NOT NULL, 
	owner VARCHAR(96), 
	lease_until DATETIME, 
	PRIMARY KEY (channel)
);
CREATE TABLE wishlist (
	profile_key VARCHAR(160) NOT NULL, 
	sku VARCHAR(32) NOT NULL, 
	added VARCHAR(90), 
	removed VARCHAR(90), 
	PRIMARY KEY (profile_key, sku)
);
INSERT INTO "wishlist" VALUES('shopper:shopper-0001','BOOT-CHELSEA-BLK','001790000000001-000000-kiosk-01',NULL);
CREATE INDEX ix_profiles_shopper ON profiles (shopper);
CREATE INDEX ix_events_session ON events (session);
CREATE INDEX eventskiosk_seq ON events (store, kiosk, seq);
CREATE INDEX ix_events_profile_key ON events (profile_key);
CREATE INDEX events_offer_taps ON events (detail, store) WHERE kind = 'offer_tap';
CREATE INDEX ix_consents_profile_key ON consents (profile_key);
CREATE INDEX ix_session_links_profile_key ON session_links (profile_key);
CREATE INDEX ix_card_visits_profile_key ON card_visits (profile_key);
CREATE INDEX ix_revoked_sessions_expires_at ON revoked_sessions (expires_at);
CREATE INDEX analytics_visits_shopper ON analytics_visits (profile_key, started_at);
CREATE INDEX analytics_product_days_by_store ON analytics_product_days (store, day);
CREATE INDEX analytics_kiosk_spans_open ON analytics_kiosk_spans (store, kiosk, ended);
CREATE INDEX ix_changes_shopper ON changes (shopper);
CREATE INDEX ix_orders_profile_key ON orders (profile_key);
CREATE INDEX ix_stock_revision ON stock (revision);
CREATE INDEX ix_reservations_revision ON reservations (revision);
CREATE INDEX reservations_open ON reservations (store, state, created_at);
CREATE INDEX reservations_row ON reservations (store, sku, size, state);
CREATE INDEX ix_reservations_profile_key ON reservations (profile_key);
CREATE INDEX reservations_due ON reservations (state, expires_at);
CREATE INDEX ix_offers_ends ON offers (ends);
CREATE INDEX ix_presence_until ON presence (until);
CREATE INDEX presence_kiosk ON presence (store, kiosk);
CREATE INDEX webhook_queue_shopper ON webhook_queue (channel, shopper, cursor);
COMMIT;
