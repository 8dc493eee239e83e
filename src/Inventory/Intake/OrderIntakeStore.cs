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

/// <summary>The intake's writes: every accepted order message becomes exactly one row of orders, idempotent on order id.</summary>
public sealed class OrderIntakeStore(NpgsqlDataSource dataSource)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Records a valid order as Received. The same id with the same content is a duplicate; with different content a conflict.</summary>
    public Task<ReceiveResult> RecordReceivedAsync(OrderSubmitted order, IReadOnlyList<OrderLine> lines, string nodeId, CancellationToken cancellationToken = default) =>
        RecordAsync(order, order?.CustomerId, lines, nodeId, OrderStatus.Received, null, null, cancellationToken);

    /// <summary>Records an order refused at intake (invalid content) as Rejected with its reason; no ledger row, it never
    /// reached a commit. What is stored is bounded whatever was sent: <see cref="OrderValidation.StoredForm"/> of the lines,
    /// the customer id and the detail in <see cref="OrderValidation.Printable"/> form (the content hash still covers the
    /// message as sent, so a resent copy is a duplicate and other content a conflict).</summary>
    public Task<ReceiveResult> RecordRejectedAsync(OrderSubmitted order, RejectionReason reason, string detail, string nodeId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(order);
        var customer = OrderValidation.Printable(order.CustomerId, OrderValidation.MaxCustomerIdLength);
        return RecordAsync(order, customer, OrderValidation.StoredForm(order.Lines), nodeId, OrderStatus.Rejected, reason, OrderValidation.Printable(detail, 500), cancellationToken);
    }

    /// <summary>SHA-256 over the customer and the lines as sent: what makes two messages with one id "the same order".</summary>
    public static string ContentHash(string? customerId, IReadOnlyList<OrderLine>? lines)
    {
        var canonical = JsonSerializer.Serialize(new { c = customerId ?? "", l = (lines ?? []).Select(x => new { s = x?.Sku, q = x?.Quantity }) }, Json);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>Inserts the order with <paramref name="customerId"/> and <paramref name="lines"/> as given, under the content
    /// hash of <paramref name="sent"/>, or finds the order already recorded under its id.</summary>
    private async Task<ReceiveResult> RecordAsync(OrderSubmitted sent, string? customerId, IReadOnlyList<OrderLine> lines, string nodeId, string status, RejectionReason? reason, string? detail, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sent);
        if (!OrderValidation.IsUsableId(sent.OrderId))
        {
            throw new ArgumentException($"Order ids are non-blank, printable and at most {OrderValidation.MaxIdLength} characters.", nameof(sent));
        }

        var hash = ContentHash(sent.CustomerId, sent.Lines);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var scope = connection.ConfigureAwait(false);
        using var insert = new NpgsqlCommand(
            "INSERT INTO orders (order_id, customer_id, lines, content_hash, status, reason, detail, received_by, decided_at) " +
            "VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, CASE WHEN $5 = 'Received' THEN NULL ELSE now() END) ON CONFLICT (order_id) DO NOTHING", connection);
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sent.OrderId });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = customerId ?? "" });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = JsonSerializer.Serialize(lines, Json) });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = hash });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = status });
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)reason?.ToString() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)detail ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = nodeId });
        if (await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1)
        {
            return new ReceiveResult(ReceiveOutcome.Recorded, status, reason?.ToString());
        }

        using var existing = new NpgsqlCommand("SELECT content_hash, status, reason FROM orders WHERE order_id = $1", connection);
        existing.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sent.OrderId });
        var reader = await existing.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var outcome = reader.GetString(0) == hash ? ReceiveOutcome.Duplicate : ReceiveOutcome.Conflict;
        return new ReceiveResult(outcome, reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2));
    }
}
