using System.Globalization;

namespace Pipeline.Storefront;

/// <summary>The sample's settings (section <c>Storefront</c>): appsettings.json, then <c>Storefront__*</c> variables, then
/// <c>--Storefront:Key=value</c> arguments.</summary>
internal sealed class StorefrontOptions
{
    public const string Section = "Storefront";

    /// <summary>AMQP URI with the storefront's user, password and virtual host: <c>amqp://user:password@host:5672/vhost</c>
    /// (<c>/</c> or <c>%2F</c> for the default virtual host).</summary>
    public Uri? RabbitMq { get; set; }

    /// <summary>The storefront's own durable queue for decision events; its name must match the storefront user's
    /// permissions (<c>storefront-*</c>).</summary>
    public string DecisionQueue { get; set; } = "storefront-sample-decisions";

    /// <summary>How many orders to publish.</summary>
    public int Orders { get; set; } = 10;

    /// <summary>How long after the first publish every order must have its decision.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Order ids are <c>{prefix}-000000</c>, <c>{prefix}-000001</c>, ...; empty: a prefix of its own for each run.</summary>
    public string? OrderIdPrefix { get; set; }

    public string CustomerId { get; set; } = "sample-customer";

    /// <summary>The SKUs the orders draw their lines from.</summary>
    public IList<string> Skus { get; } = [];

    /// <summary>The settings' problems, each naming its setting; empty when they are usable.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (RabbitMq is null)
        {
            problems.Add($"{Section}:RabbitMq is not set (amqp://user:password@host:5672/vhost)");
        }
        else if (RabbitMq.Scheme != "amqp" || string.IsNullOrEmpty(RabbitMq.Host))
        {
            problems.Add($"{Section}:RabbitMq must be an amqp:// URI with a host (got scheme '{RabbitMq.Scheme}')");
        }

        if (Orders is < 1 or > 1_000_000)
        {
            problems.Add($"{Section}:Orders must be 1 to 1,000,000 (got {Orders.ToString(CultureInfo.InvariantCulture)})");
        }

        if (Timeout <= TimeSpan.Zero)
        {
            problems.Add($"{Section}:Timeout must be positive (got {Timeout})");
        }

        if (string.IsNullOrWhiteSpace(DecisionQueue))
        {
            problems.Add($"{Section}:DecisionQueue is empty");
        }

        if (Skus.Count == 0 || Skus.Any(string.IsNullOrWhiteSpace))
        {
            problems.Add($"{Section}:Skus must list at least one SKU, none empty");
        }

        return problems;
    }

    /// <summary>The URI's parts as MassTransit's host configuration takes them (user and password unescaped).</summary>
    public (string Host, ushort Port, string VirtualHost, string User, string Password) Broker()
    {
        var uri = RabbitMq ?? throw new InvalidOperationException($"{Section}:RabbitMq is not set");
        var user = uri.UserInfo.Split(':', 2);
        var vhost = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        return (uri.Host, (ushort)(uri.IsDefaultPort || uri.Port <= 0 ? 5672 : uri.Port), vhost.Length == 0 ? "/" : vhost,
            user[0].Length == 0 ? "guest" : Uri.UnescapeDataString(user[0]), user.Length > 1 ? Uri.UnescapeDataString(user[1]) : "");
    }
}
