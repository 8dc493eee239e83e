using Npgsql;
using Pipeline.Inventory.Commit;

namespace Pipeline.Inventory.Status;

/// <summary>Reads the database's part of the <c>status</c> verb, so the verb only formats and its SQL lives with the schema
/// it reads.</summary>
public sealed class InventoryStatusReader(NpgsqlDataSource dataSource)
{
    public async Task<InventoryStatus> ReadAsync(CancellationToken cancellationToken = default)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);

        var orders = new SortedDictionary<string, long>(StringComparer.Ordinal);
        using (var command = new NpgsqlCommand("SELECT status, count(*) FROM orders GROUP BY status", connection))
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                orders[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        var fences = new List<FenceRow>();
        using (var command = new NpgsqlCommand("SELECT resource, generation, sequence, holder, updated_at FROM leader_fence ORDER BY resource", connection))
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                fences.Add(new FenceRow(reader.GetString(0), new FenceToken(reader.GetInt64(1), reader.GetInt64(2)), reader.GetString(3), reader.GetFieldValue<DateTimeOffset>(4)));
            }
        }

        return new InventoryStatus(orders, fences);
    }
}
