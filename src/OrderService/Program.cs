using Pipeline.OrderService.Cli;

namespace Pipeline.OrderService;

/// <summary>One executable, one verb per job: run, migrate, seed, publish, status, verify, watch, healthcheck, fence-reset.</summary>
public static class Program
{
    public static Task<int> Main(string[] args) => CliApplication.RunAsync(args);
}
