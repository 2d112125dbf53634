-- Alert escalation outbox (contract §12.7). One row per alert that may escalate, written in the
-- same transaction as the alert, so a crash can never leave an alert without its escalation.
-- state: scheduled (deadline not reached) → pending (attempts under way) → delivered | abandoned;
-- cancelled = acknowledged or resolved before the deadline (shown as "none").
-- A node claims a due row with FOR UPDATE SKIP LOCKED and a lease (claim_token, claim_expires_at):
-- a dead node's lease runs out and another node takes the row over.
CREATE TABLE "alert_escalations" (
  "alert_id" text PRIMARY KEY NOT NULL REFERENCES "alerts"("id") ON DELETE CASCADE,
  "organization_id" text NOT NULL,
  "delivery_id" text NOT NULL,
  "state" text DEFAULT 'scheduled' NOT NULL,
  "next_attempt_at" timestamp with time zone NOT NULL,
  "attempts" integer DEFAULT 0 NOT NULL,
  "claim_token" text,
  "claimed_by" text,
  "claim_expires_at" timestamp with time zone,
  "payload" text,
  "escalated_at" timestamp with time zone,
  "delivered_at" timestamp with time zone,
  "last_outcome" text,
  "finished_at" timestamp with time zone,
  "created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "alert_escalations_due_idx" ON "alert_escalations" ("next_attempt_at") WHERE "state" IN ('scheduled', 'pending');
