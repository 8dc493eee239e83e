using System.Globalization;
using System.Reflection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Configuration;

namespace Pipeline.OrderService.Tests.Deployment;

/// <summary>What the service reads and serves, found from its own code rather than restated: the settings its options
/// classes bind (by reflection), and the routes, listening port and shutdown timeout of a replica host built with a
/// container's settings.</summary>
internal static class ServiceSettings
{
    /// <summary>The section <see cref="ServiceHost"/> binds <see cref="FencedCommitterOptions"/> to.</summary>
    private const string CommitSection = "Commit";

    /// <summary>The connection strings the verbs read: the service role's, and the owner role's for <c>migrate</c>.</summary>
    private static readonly string[] ConnectionStrings = ["Inventory", "InventoryOwner"];

    private const string AspNetCorePrefix = "ASPNETCORE_";

    /// <summary>Console formatters .NET provides.</summary>
    private static readonly string[] ConsoleFormatters = ["json", "simple", "systemd"];

    /// <summary>Each options section the service binds, by its name: every class of the Configuration namespace with a
    /// <c>Section</c> constant, and the fenced committer's options.</summary>
    public static IReadOnlyDictionary<string, Type> Sections { get; } = typeof(PipelineOptions).Assembly.GetTypes()
        .Where(t => t.Namespace == typeof(PipelineOptions).Namespace && t.GetField("Section", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true })
        .ToDictionary(t => (string)t.GetField("Section")!.GetRawConstantValue()!, t => t, StringComparer.OrdinalIgnoreCase)
        .Append(new KeyValuePair<string, Type>(CommitSection, typeof(FencedCommitterOptions)))
        .ToDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>The configuration key an environment variable sets (<c>A__B</c> is <c>A:B</c>).</summary>
    public static string Key(string variable) => variable.Replace("__", ":", StringComparison.Ordinal);

    /// <summary>Null when the variable is a setting the service reads and its value (when the manifest states it) binds;
    /// otherwise what is wrong. A value from a secret is unknown here and bound as a string.</summary>
    public static string? Problem(string variable, string? literalValue)
    {
        if (variable.StartsWith("DOTNET_", StringComparison.Ordinal) || variable.StartsWith("ASPNETCORE_", StringComparison.Ordinal))
        {
            return null;
        }

        var key = Key(variable);
        var parts = key.Split(':');
        if (parts[0].Equals("Logging", StringComparison.OrdinalIgnoreCase))
        {
            if (parts.Length < 2)
            {
                return $"{variable}: Logging needs a key";
            }

            return key.Equals("Logging:Console:FormatterName", StringComparison.OrdinalIgnoreCase) && literalValue is not null
                   && !ConsoleFormatters.Contains(literalValue, StringComparer.OrdinalIgnoreCase)
                ? $"{variable}: '{literalValue}' is not a console formatter ({string.Join(", ", ConsoleFormatters)})"
                : null;
        }

        if (parts[0].Equals("ConnectionStrings", StringComparison.OrdinalIgnoreCase))
        {
            return parts.Length == 2 && ConnectionStrings.Contains(parts[1], StringComparer.OrdinalIgnoreCase)
                ? null
                : $"{variable}: the service reads only ConnectionStrings:{string.Join(" and ConnectionStrings:", ConnectionStrings)}";
        }

        if (!Sections.TryGetValue(parts[0], out var type))
        {
            return $"{variable}: no options class binds a section '{parts[0]}' (sections: {string.Join(", ", Sections.Keys)})";
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new(key, literalValue ?? "value-from-a-secret")]).Build();
        try
        {
            configuration.GetSection(parts[0]).Bind(Activator.CreateInstance(type)!, o => o.ErrorOnUnknownConfiguration = true);
            return null;
        }
        catch (InvalidOperationException ex)
        {
            return $"{variable}: does not bind to {type.Name}: {ex.Message}";
        }
    }

    /// <summary>A replica as <see cref="ServiceHost"/> composes it with these settings (environment variable names and the
    /// values a manifest or the image states): the routes it maps, the port it listens on, its shutdown timeout. The host is
    /// built, never started: nothing connects anywhere.</summary>
    public static async Task<Replica> ReplicaAsync(IReadOnlyDictionary<string, string> literalSettings)
    {
        // ASP.NET Core reads ASPNETCORE_X as the host setting X; Section__Key is the setting Section:Key; other variables
        // (TMPDIR, HOME, DOTNET_*) are not settings.
        var args = literalSettings
            .Select(s => s.Key.StartsWith(AspNetCorePrefix, StringComparison.Ordinal) ? $"--{s.Key[AspNetCorePrefix.Length..]}={s.Value}"
                : s.Key.Contains("__", StringComparison.Ordinal) ? $"--{Key(s.Key)}={s.Value}"
                : null)
            .OfType<string>()
            .Append("--ConnectionStrings:Inventory=Host=unused.invalid;Username=unused")
            .ToArray();
        var app = ServiceHost.Build(args);
        await using (app)
        {
            var routes = ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()
                .Select(e => "/" + (e.RoutePattern.RawText ?? "").TrimStart('/'))
                .ToHashSet(StringComparer.Ordinal);
            // Kestrel listens on the URLs when set, else on ASPNETCORE_HTTP_PORTS.
            var ports = app.Configuration[WebHostDefaults.ServerUrlsKey] is { Length: > 0 } urls
                ? urls.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(u => new Uri(u.Replace("*", "0.0.0.0", StringComparison.Ordinal).Replace("+", "0.0.0.0", StringComparison.Ordinal)).Port)
                : app.Configuration["http_ports"] is { Length: > 0 } httpPorts
                    ? httpPorts.Split([';', ','], StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p.Trim(), CultureInfo.InvariantCulture))
                    : throw new InvalidOperationException("the replica host sets no listening URL or HTTP port");
            var distinct = ports.Distinct().ToArray();
            var port = distinct.Length == 1 ? distinct[0] : throw new InvalidOperationException($"the replica host listens on several ports: {string.Join(", ", distinct)}");
            var shutdown = app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout;
            return new Replica(routes, port, shutdown);
        }
    }

    public sealed record Replica(IReadOnlySet<string> Routes, int Port, TimeSpan ShutdownTimeout)
    {
        public override string ToString() =>
            $"routes {string.Join(", ", Routes.Order(StringComparer.Ordinal))}; port {Port.ToString(CultureInfo.InvariantCulture)}; shutdown timeout {ShutdownTimeout}";
    }
}
