-- Stores a batch of messages in one statement (see MessagesRepository.insertBatch). A PL/pgSQL
-- function keeps the statement's plan for the session: planning this statement cost PostgreSQL
-- (and far more PGlite, which plans in WebAssembly) more than running it. The arguments are
-- parallel arrays; metadata is JSON text.
CREATE FUNCTION insert_message_batch(
  p_ids text[], p_conversation_ids text[], p_sender_ids text[], p_organization_ids text[],
  p_contents text[], p_metadata text[])
RETURNS TABLE (id text, seq integer, created_ms double precision)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH v AS (
      SELECT u.ord, u.id, u.conversation_id, u.sender_id, u.organization_id, u.content, u.metadata::jsonb AS metadata
      FROM unnest(p_ids, p_conversation_ids, p_sender_ids, p_organization_ids, p_contents, p_metadata) WITH ORDINALITY
        AS u(id, conversation_id, sender_id, organization_id, content, metadata, ord)),
    -- Conversation rows locked in id order: concurrent batches on any number of nodes never deadlock.
    l AS (SELECT c.id FROM conversations c WHERE c.id IN (SELECT v.conversation_id FROM v) ORDER BY c.id FOR UPDATE),
    k AS (SELECT v.conversation_id, count(*)::int AS n FROM v JOIN l ON l.id = v.conversation_id GROUP BY v.conversation_id),
    s AS (UPDATE conversations c SET last_seq = c.last_seq + k.n FROM k WHERE c.id = k.conversation_id
          RETURNING c.id, c.last_seq, k.n),
    m AS (INSERT INTO messages (id, conversation_id, seq, sender_id, organization_id, type, content, metadata)
          SELECT v.id, v.conversation_id, (s.last_seq - s.n + row_number() OVER (PARTITION BY v.conversation_id ORDER BY v.ord))::int,
                 v.sender_id, v.organization_id, 'text', v.content, v.metadata
          FROM v JOIN s ON s.id = v.conversation_id
          RETURNING messages.id, messages.conversation_id, messages.seq, messages.sender_id, messages.created_at),
    x AS (SELECT m.conversation_id, m.sender_id, max(m.seq) AS seq FROM m GROUP BY m.conversation_id, m.sender_id),
    p AS (UPDATE conversation_participants cp
          SET delivered_seq = GREATEST(cp.delivered_seq, x.seq), read_seq = GREATEST(cp.read_seq, x.seq)
          FROM x WHERE cp.conversation_id = x.conversation_id AND cp.user_id = x.sender_id)
  SELECT m.id, m.seq, (extract(epoch from m.created_at) * 1000)::float8 FROM m;
END
$$;
