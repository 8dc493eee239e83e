using System.Globalization;
using Npgsql;

namespace Pipeline.Inventory.Commit;

/// <summary>Builds the Npgsql data source of the commit path: timeouts set at connection start (no per-transaction SET),
/// statements auto-prepared, and planned for their arguments each time (plan_cache_mode=force_custom_plan). A generic plan
/// is chosen after five runs from the table as it was then: on a ledger that started empty it scanned the whole table for
/// every batch's `order_id = ANY($1)` until an ANALYZE replaced it (a full leader drain ran at a sixth of its rate, the
/// database's time in texteq; perf). Planning a statement of a 100-order batch costs far less than one such scan. Its
/// statements are traced only inside a traced operation.</summary>
public static class InventoryDataSource
{
    public static NpgsqlDataSource Create(string connectionString, FencedCommitterOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        options ??= new FencedCommitterOptions();
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (builder.MaxAutoPrepare == 0)
        {
            builder.MaxAutoPrepare = 32;
        }

        var settings = string.Create(CultureInfo.InvariantCulture,
            $"-c idle_in_transaction_session_timeout={(int)options.IdleInTransactionTimeout.TotalMilliseconds} -c statement_timeout={(int)options.StatementTimeout.TotalMilliseconds} -c lock_timeout={(int)options.LockTimeout.TotalMilliseconds} -c plan_cache_mode=force_custom_plan");
        builder.Options = string.IsNullOrEmpty(builder.Options) ? settings : builder.Options + " " + settings;

        // Statements are traced only as part of a traced operation (an intake batch, a commit batch, a request): the health
        // check's and the re-drive's polling would otherwise be a root span of their own every few seconds.
        var dataSource = new NpgsqlDataSourceBuilder(builder.ConnectionString);
        dataSource.ConfigureTracing(tracing => tracing
            .ConfigureCommandFilter(_ => System.Diagnostics.Activity.Current is not null)
            .ConfigureBatchFilter(_ => System.Diagnostics.Activity.Current is not null));
        return dataSource.Build();
    }
}
