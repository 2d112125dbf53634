-- §12.1: a user is (organizationId, userId). A revocation is one user's in one organization:
-- the key becomes (organization_id, user_id); existing rows keep the organization they were
-- recorded with.
ALTER TABLE "revocations" DROP CONSTRAINT "revocations_pkey";--> statement-breakpoint
ALTER TABLE "revocations" ADD CONSTRAINT "revocations_organization_id_user_id_pk" PRIMARY KEY("organization_id","user_id");--> statement-breakpoint
CREATE INDEX "revocations_revoked_at_idx" ON "revocations" USING btree ("revoked_at");
