-- Schema 6: the pages of each vault's folders in pages, as the newest entry
-- that wrote the folder declared them (SPEC.md §11.3.1, folderpages.go).
CREATE TABLE vault_folder_pages (
	org_id    text COLLATE "C" NOT NULL,
	vault_id  text COLLATE "C" NOT NULL,
	folder_id text COLLATE "C" NOT NULL,
	page_ids  text[] NOT NULL,
	PRIMARY KEY (org_id, vault_id, folder_id)
);
