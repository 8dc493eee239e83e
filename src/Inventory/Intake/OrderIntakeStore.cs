using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Npgsql;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Model;

namespace Pipeline.Inventory.Intake;

/// <summary>What recording an incoming order found.</summary>
public enum ReceiveOutcome
{
    /// <summary>New: recorded as Received.</summary>
    Recorded,

    /// <summary>The same order again (a redelivery or a duplicate publish): nothing written.</summary>
    Duplicate,

    /// <summary>The id was already used for different content: nothing written; the message must be rejected as a conflict.</summary>
    Conflict,
}

/// <summary>The result of <see cref="OrderIntakeStore.RecordReceivedAsync"/>, with the stored order's status.</summary>
public sealed record ReceiveResult(ReceiveOutcome Outcome, string Status, string? Reason);

/// <summary>One order as the intake records it: valid (Received, its lines normalised) or refused at intake (Rejected, with
/// its reason and detail, stored in bounded form).</summary>
public sealed record IntakeRecord
{
    private IntakeRecord(OrderSubmitted sent, string customerId, IReadOnlyList<OrderLine> lines, string status, RejectionReason? reason, string? detail)
    {
        Sent = sent;
        CustomerId = customerId;
        Lines = lines;
        Status = status;
        Reason = reason;
        Detail = detail;
    }

    /// <summary>The message as it arrived: the content hash covers it as sent.</summary>
    public OrderSubmitted Sent { get; }

    public string CustomerId { get; }

    public IReadOnlyList<OrderLine> Lines { get; }

    public string Status { get; }

    public RejectionReason? Reason { get; }

    public string? Detail { get; }

    /// <summary>A valid order, recorded as Received with <paramref name="lines"/> (the validated, normalised lines).</summary>
    public static IntakeRecord Received(OrderSubmitted order, IReadOnlyList<OrderLine> lines)
    {
        ArgumentNullException.ThrowIfNull(order);
        return new(RequireUsableId(order), order.CustomerId ?? "", lines, OrderStatus.Received, null, null);
    }

    /// <summary>An order refused at intake, recorded as Rejected with its reason: bounded whatever was sent
    /// (<see cref="OrderValidation.StoredForm"/> of the lines, the customer id and the detail in
    /// <see cref="OrderValidation.Printable"/> form; the content hash still covers the message as sent, so a resent copy is
    /// a duplicate and other content a conflict).</summary>
    public static IntakeRecord Rejected(OrderSubmitted order, RejectionReason reason, string detail)
    {
        ArgumentNullException.ThrowIfNull(order);
        return new(RequireUsableId(order), OrderValidation.Printable(order.CustomerId, OrderValidation.MaxCustomerIdLength),
            OrderValidation.StoredForm(order.Lines), OrderStatus.Rejected, reason, OrderValidation.Printable(detail, 500));
    }

    private static OrderSubmitted RequireUsableId(OrderSubmitted order) => OrderValidation.IsUsableId(order.OrderId)
        ? order
        : throw new ArgumentException($"Order ids are non-blank, printable and at most {OrderValidation.MaxIdLength} characters.", nameof(order));
}

/// <summary>The intake's writes: every accepted order message becomes exactly one row of orders, idempotent on order id.</summary>
public sealed class OrderIntakeStore(NpgsqlDataSource dataSource)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Inserts every new order of the batch and reads the stored row of every other, in one statement (one round trip):
    /// the rows go in ordered by id, so two replicas recording overlapping batches wait for each other instead of deadlocking.</summary>
    private const string RecordSql = """
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                AS t(order_id, customer_id, lines, content_hash, status, reason, detail)),
        inserted AS (
            INSERT INTO orders (order_id, customer_id, lines, content_hash, status, reason, detail, received_by, decided_at)
            SELECT order_id, customer_id, lines::jsonb, content_hash, status, reason, detail, $8, CASE WHEN status = 'Received' THEN NULL ELSE now() END
            FROM input ORDER BY order_id
            ON CONFLICT (order_id) DO NOTHING
            RETURNING order_id)
        SELECT i.order_id, ins.order_id IS NOT NULL, o.content_hash, o.status, o.reason
        FROM input i LEFT JOIN inserted ins ON ins.order_id = i.order_id LEFT JOIN orders o ON o.order_id = i.order_id
        """;

    /// <summary>Records a valid order as Received. The same id with the same content is a duplicate; with different content a conflict.</summary>
    public async Task<ReceiveResult> RecordReceivedAsync(OrderSubmitted order, IReadOnlyList<OrderLine> lines, string nodeId, CancellationToken cancellationToken = default) =>
        (await RecordAsync([IntakeRecord.Received(order, lines)], nodeId, cancellationToken).ConfigureAwait(false))[0];

    /// <summary>Records an order refused at intake (invalid content) as Rejected with its reason (<see cref="IntakeRecord.Rejected"/>);
    /// no ledger row, it never reached a commit.</summary>
    public async Task<ReceiveResult> RecordRejectedAsync(OrderSubmitted order, RejectionReason reason, string detail, string nodeId, CancellationToken cancellationToken = default) =>
        (await RecordAsync([IntakeRecord.Rejected(order, reason, detail)], nodeId, cancellationToken).ConfigureAwait(false))[0];

    /// <summary>SHA-256 over the customer and the lines as sent: what makes two messages with one id "the same order".</summary>
    public static string ContentHash(string? customerId, IReadOnlyList<OrderLine>? lines)
    {
        var canonical = JsonSerializer.Serialize(new { c = customerId ?? "", l = (lines ?? []).Select(x => new { s = x?.Sku, q = x?.Quantity }) }, Json);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>
    /// Records a batch in one round trip, a result per record in the same order. A new id is recorded; an id already stored
    /// with the same content is a duplicate (with the stored status), with other content a conflict (nothing written). The
    /// same id twice in the batch: the first is recorded or found, a later copy is its duplicate or, with other content, a
    /// conflict, as if it had come after it.
    /// </summary>
    public async Task<IReadOnlyList<ReceiveResult>> RecordAsync(IReadOnlyList<IntakeRecord> records, string nodeId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        var hashes = records.Select(r => ContentHash(r.Sent.CustomerId, r.Sent.Lines)).ToArray();
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < records.Count; i++)
        {
            first.TryAdd(records[i].Sent.OrderId, i);
        }

        var stored = await InsertOrReadAsync(records, hashes, first, nodeId, cancellationToken).ConfigureAwait(false);
        var results = new ReceiveResult[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            var row = stored[records[i].Sent.OrderId];
            results[i] = row.Inserted && first[records[i].Sent.OrderId] == i
                ? new ReceiveResult(ReceiveOutcome.Recorded, row.Status, row.Reason)
                : new ReceiveResult(row.Hash == hashes[i] ? ReceiveOutcome.Duplicate : ReceiveOutcome.Conflict, row.Status, row.Reason);
        }

        return results;
    }

    /// <summary>The stored row of each order id of <paramref name="first"/> (its first record in <paramref name="records"/>),
    /// and whether this call inserted it (then the row is what that record holds).</summary>
    private async Task<Dictionary<string, StoredOrder>> InsertOrReadAsync(IReadOnlyList<IntakeRecord> records, string[] hashes, Dictionary<string, int> first, string nodeId, CancellationToken cancellationToken)
    {
        int[] unique = [.. first.Values.Order()];
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var scope = connection.ConfigureAwait(false);
        using var command = new NpgsqlCommand(RecordSql, connection);
        string?[] Column(Func<int, string?> value) => [.. unique.Select(value)];
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = Column(i => records[i].Sent.OrderId) });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = Column(i => records[i].CustomerId) });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = Column(i => JsonSerializer.Serialize(records[i].Lines, Json)) });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = Column(i => hashes[i]) });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = Column(i => records[i].Status) });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = Column(i => records[i].Reason?.ToString()) });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = Column(i => records[i].Detail) });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = nodeId });
        var stored = new Dictionary<string, StoredOrder>(StringComparer.Ordinal);
        var unseen = new List<string>();
        await ReadAsync(command, (id, reader) =>
        {
            if (reader.GetBoolean(1))
            {
                var i = first[id];
                stored[id] = new StoredOrder(true, hashes[i], records[i].Status, records[i].Reason?.ToString());
            }
            else if (reader.IsDBNull(2))
            {
                unseen.Add(id); // recorded by a concurrent intake after this statement's snapshot was taken
            }
            else
            {
                stored[id] = StoredOrder.From(reader, 2);
            }
        }, cancellationToken).ConfigureAwait(false);

        if (unseen.Count > 0)
        {
            using var read = new NpgsqlCommand("SELECT order_id, content_hash, status, reason FROM orders WHERE order_id = ANY($1)", connection);
            read.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. unseen] });
            await ReadAsync(read, (id, reader) => stored[id] = StoredOrder.From(reader, 1), cancellationToken).ConfigureAwait(false);
        }

        return stored;
    }

    /// <summary>Runs <paramref name="command"/>, handing each row with its order id (column 0) to <paramref name="row"/>.</summary>
    private static async Task ReadAsync(NpgsqlCommand command, Action<string, NpgsqlDataReader> row, CancellationToken cancellationToken)
    {
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                row(reader.GetString(0), reader);
            }
        }
    }

    private sealed record StoredOrder(bool Inserted, string Hash, string Status, string? Reason)
    {
        /// <summary>A stored row read from its content hash, status and reason columns, from <paramref name="column"/> on.</summary>
        public static StoredOrder From(NpgsqlDataReader reader, int column) =>
            new(false, reader.GetString(column), reader.GetString(column + 1), reader.IsDBNull(column + 2) ? null : reader.GetString(column + 2));
    }
}
