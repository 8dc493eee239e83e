using System.Globalization;
using Npgsql;

namespace Pipeline.Inventory.Commit;

/// <summary>Builds the Npgsql data source of the commit path: timeouts set at connection start (no per-transaction SET),
/// statements auto-prepared.</summary>
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
            $"-c idle_in_transaction_session_timeout={(int)options.IdleInTransactionTimeout.TotalMilliseconds} -c statement_timeout={(int)options.StatementTimeout.TotalMilliseconds} -c lock_timeout={(int)options.LockTimeout.TotalMilliseconds}");
        builder.Options = string.IsNullOrEmpty(builder.Options) ? settings : builder.Options + " " + settings;
        return NpgsqlDataSource.Create(builder);
    }
}
