using Microsoft.Extensions.Configuration;

namespace Pipeline.OrderService.Configuration;

/// <summary>
/// Configuration sources, later ones win: appsettings.json; the PIPELINE_* service variables the scripts and tests export;
/// the environment (Pipeline__NodeId=..., ZooKeeper__ConnectString=...); one file per setting in the secrets directory
/// (<c>/run/secrets</c>, or <c>PIPELINE_SECRETS_DIRECTORY</c>: a file named <c>ConnectionStrings__Inventory</c> holds that
/// setting, as Docker and Kubernetes secret volumes lay them out); then the command line (--ZooKeeper:ConnectString=...).
/// </summary>
public static class ServiceConfiguration
{
    public const string SecretsDirectoryVariable = "PIPELINE_SECRETS_DIRECTORY";

    /// <summary>Where secrets are read from, one file per setting.</summary>
    public static string SecretsDirectory => Environment.GetEnvironmentVariable(SecretsDirectoryVariable) is { Length: > 0 } d ? d : "/run/secrets";

    public static void AddPipelineSources(this IConfigurationBuilder builder, string[] args) => builder.AddPipelineSources(args, SecretsDirectory);

    internal static void AddPipelineSources(this IConfigurationBuilder builder, string[] args, string secretsDirectory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var fromServices = new Dictionary<string, string?>();
        if (Environment.GetEnvironmentVariable("PIPELINE_ZOOKEEPER") is { Length: > 0 } zk)
        {
            fromServices["ZooKeeper:ConnectString"] = zk;
        }

        if (Environment.GetEnvironmentVariable("PIPELINE_POSTGRES") is { Length: > 0 } pg)
        {
            fromServices["ConnectionStrings:Inventory"] = pg;
        }

        if (Environment.GetEnvironmentVariable("PIPELINE_RABBITMQ") is { Length: > 0 } amqp && Uri.TryCreate(amqp, UriKind.Absolute, out var uri))
        {
            var rabbit = new RabbitMqOptions();
            rabbit.ApplyUri(uri);
            fromServices["RabbitMq:Host"] = rabbit.Host;
            fromServices["RabbitMq:Port"] = rabbit.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            fromServices["RabbitMq:VirtualHost"] = rabbit.VirtualHost;
            fromServices["RabbitMq:Username"] = rabbit.Username;
            fromServices["RabbitMq:Password"] = rabbit.Password;
        }

        // The explicit sections win over PIPELINE_*: re-add environment and command line after them.
        builder.AddInMemoryCollection(fromServices);
        builder.AddEnvironmentVariables();
        builder.AddKeyPerFile(secretsDirectory, optional: true);
        builder.AddCommandLine(args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && a.Contains('=', StringComparison.Ordinal)).ToArray());
    }

    /// <summary>The schema owner's connection string (<c>ConnectionStrings:InventoryOwner</c>, for migrations, stock and the fence
    /// reset), else the service's.</summary>
    public static string InventoryOwnerConnectionString(this IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return configuration.GetConnectionString("InventoryOwner") is { Length: > 0 } owner ? owner : configuration.InventoryConnectionString();
    }

    /// <summary>The inventory connection string, or a clear error naming the setting.</summary>
    public static string InventoryConnectionString(this IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var value = configuration.GetConnectionString("Inventory");
        return string.IsNullOrWhiteSpace(value)
            ? throw new InvalidOperationException("ConnectionStrings:Inventory is missing (set ConnectionStrings__Inventory or PIPELINE_POSTGRES).")
            : value;
    }
}
