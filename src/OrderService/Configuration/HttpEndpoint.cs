namespace Pipeline.OrderService.Configuration;

/// <summary>
/// Where a replica serves HTTP: ASP.NET Core's own <c>ASPNETCORE_URLS</c> or <c>ASPNETCORE_HTTP_PORTS</c> when set (container
/// platforms and the .NET images set them), else <c>Pipeline:HttpPort</c> on every interface; and the loopback address the
/// replica's own health check calls, derived the same way so the two never disagree.
/// </summary>
public static class HttpEndpoint
{
    /// <summary>The URLs to listen on when ASP.NET Core was given none, or null to leave ASP.NET Core's own settings.</summary>
    public static string? DefaultUrls(IConfiguration configuration, PipelineOptions pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return AspNetCoreUrls(configuration) is null && AspNetCorePorts(configuration) is null ? $"http://0.0.0.0:{pipeline.HttpPort}" : null;
    }

    /// <summary>The replica's own <c>/health/ready</c> on loopback.</summary>
    public static Uri LocalReadiness(IConfiguration configuration)
    {
        if (AspNetCorePorts(configuration) is { } ports)
        {
            return new Uri($"http://127.0.0.1:{ports.Split(';', ',')[0].Trim()}/health/ready");
        }

        if (AspNetCoreUrls(configuration) is { } urls)
        {
            var listen = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var chosen = listen.FirstOrDefault(u => u.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? listen[0];
            var scheme = chosen[..chosen.IndexOf("://", StringComparison.Ordinal)];
            var port = chosen[(chosen.LastIndexOf(':') + 1)..].TrimEnd('/');
            return new Uri($"{scheme}://127.0.0.1:{port}/health/ready");
        }

        var pipeline = configuration.GetSection(PipelineOptions.Section).Get<PipelineOptions>() ?? new PipelineOptions();
        return new Uri($"http://127.0.0.1:{pipeline.HttpPort}/health/ready");
    }

    private static string? AspNetCoreUrls(IConfiguration configuration) => Setting(configuration, "urls", "ASPNETCORE_URLS");

    private static string? AspNetCorePorts(IConfiguration configuration) => Setting(configuration, "http_ports", "ASPNETCORE_HTTP_PORTS");

    private static string? Setting(IConfiguration configuration, string key, string variable) =>
        configuration[key] is { Length: > 0 } value ? value : configuration[variable] is { Length: > 0 } raw ? raw : null;
}
