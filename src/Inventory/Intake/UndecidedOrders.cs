using System.Text.Json;
using Npgsql;
using Pipeline.Contracts;

namespace Pipeline.Inventory.Intake;

/// <summary>A recorded order that no commit has decided yet, with its validated lines as intake stored them.</summary>
public sealed record UndecidedOrder(string OrderId, IReadOnlyList<OrderLine> Lines, DateTimeOffset ReceivedAt);

/// <summary>
/// Reads the orders still Received: what the leader's re-drive decides when their CommitInventory was lost (a broker that
/// dropped it, a queue deleted by hand), so every recorded order is eventually decided whatever happened to its message.
/// </summary>
public sealed class UndecidedOrders(NpgsqlDataSource dataSource)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The oldest undecided orders received more than <paramref name="olderThan"/> ago (by the database's clock),
    /// at most <paramref name="limit"/>, oldest first.</summary>
    public async Task<IReadOnlyList<UndecidedOrder>> OldestAsync(TimeSpan olderThan, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var command = dataSource.CreateCommand(
            "SELECT order_id, lines::text, received_at FROM orders WHERE status = 'Received' AND received_at < now() - $1 ORDER BY received_at LIMIT $2");
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = olderThan });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
            var found = new List<UndecidedOrder>();
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var lines = JsonSerializer.Deserialize<List<OrderLine>>(reader.GetString(1), Json) ?? [];
                    found.Add(new UndecidedOrder(reader.GetString(0), lines, reader.GetFieldValue<DateTimeOffset>(2)));
                }
            }

            return found;
        }
    }

    /// <summary>How many orders are undecided and since when the oldest of them waits (null when none is).</summary>
    public async Task<(long Count, DateTimeOffset? OldestReceivedAt)> SummaryAsync(CancellationToken cancellationToken = default)
    {
        var command = dataSource.CreateCommand("SELECT count(*), min(received_at) FROM orders WHERE status = 'Received'");
        await using (command.ConfigureAwait(false))
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                return (reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1));
            }
        }
    }
}
