using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Microsoft.Extensions.Configuration;
using Pipeline.Inventory;
using Pipeline.OrderService.Configuration;

namespace Pipeline.OrderService.Cli;

/// <summary>The verbs as one System.CommandLine root command, each with its typed options, and the configuration every verb
/// reads (appsettings.json, PIPELINE_*, the environment, secrets, then the <c>--Section:Key=value</c> overrides).</summary>
public static class Verbs
{
    public const string Run = "run";

    /// <summary>Said in every verb's help: the overrides are not options and so are not checked against them.</summary>
    internal const string SettingsNote =
        "Settings: appsettings.json, the environment (ZooKeeper__ConnectString, ConnectionStrings__Inventory, RabbitMq__Password, ...), " +
        "PIPELINE_ZOOKEEPER/RABBITMQ/POSTGRES, then --Section:Key=value arguments on any verb (a name with ':' and '=' before the value, " +
        "e.g. --ConnectionStrings:Inventory=..., --ZooKeeper:ConnectString=host:2181): those are configuration, every other unknown option is an error.";

    public static IConfiguration Configuration(string[] args)
    {
        var builder = new ConfigurationBuilder().SetBasePath(AppContext.BaseDirectory).AddJsonFile("appsettings.json", optional: true);
        builder.AddPipelineSources(args);
        return builder.Build();
    }

    /// <summary>Every verb; <paramref name="settings"/> are the configuration overrides taken out of the command line.</summary>
    internal static RootCommand CreateRootCommand(string[] settings)
    {
        var root = new RootCommand("The Pipeline OrderService: one executable, one verb per job.")
        {
            RunCommand(settings),
            MigrateCommand(settings),
            SeedVerb.Command(settings),
            Publisher.Command(settings),
            StatusVerb.Command(settings),
            VerifyVerb.Command(settings),
            Watcher.Command(settings),
            HealthcheckVerb.Command(settings),
            FenceResetVerb.Command(settings),
        };
        foreach (var help in root.Options.OfType<HelpOption>())
        {
            help.Action = new SettingsNoteHelpAction((HelpAction)help.Action!);
        }

        return root;
    }

    /// <summary>The setting the owner's connection string came from, for messages.</summary>
    internal static string OwnerSetting(IConfiguration configuration) =>
        configuration.GetConnectionString("InventoryOwner") is { Length: > 0 } ? "ConnectionStrings:InventoryOwner" : "ConnectionStrings:Inventory";

    internal static Command Verb(string name, string summary) => new(name, summary);

    private static Command RunCommand(string[] settings)
    {
        var command = Verb(Run, "Run a replica: intake on every replica, the commit endpoint on the elected leader; HTTP health, status, metrics. " +
                                "Reaches PostgreSQL, RabbitMQ and ZooKeeper once first; stops on SIGINT or SIGTERM.");
        command.SetAction(async (_, _) =>
        {
            var configuration = Configuration(settings);
            ServiceHost.RefuseReplicaHostSettings(configuration);
            await Preflight.CheckAsync(configuration, CancellationToken.None);
            var app = ServiceHost.Build(settings);
            await app.RunAsync();
            return 0;
        });
        return command;
    }

    private static Command MigrateCommand(string[] settings)
    {
        var grantTo = CliOptions.Text("--grant-to", "after migrating, give this service role what a replica needs (no DDL, no deletes, no changes to the ledger, the audit or the fence)", "ROLE");
        var command = Verb("migrate", "Apply the database migrations as the owner role (ConnectionStrings:InventoryOwner, else ConnectionStrings:Inventory).");
        command.Options.Add(grantTo);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var configuration = Configuration(settings);
            var owner = configuration.InventoryOwnerConnectionString();
            await Reachability.PostgresAsync(owner, OwnerSetting(configuration), cancellationToken);
            await InventoryDatabase.MigrateAsync(owner, cancellationToken);
            if (parse.GetValue(grantTo) is { Length: > 0 } role)
            {
                await InventoryDatabase.GrantServiceRoleAsync(owner, role, cancellationToken);
                Console.WriteLine($"granted {role} what a replica needs: no DDL, no deletes, no changes to the ledger, the audit or the fence");
            }

            Console.WriteLine("migrations applied");
            return 0;
        });
        return command;
    }

    /// <summary>The generated help, then the note on settings: every verb's help says how configuration is given.</summary>
    private sealed class SettingsNoteHelpAction(HelpAction help) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var exitCode = help.Invoke(parseResult);
            parseResult.InvocationConfiguration.Output.WriteLine(SettingsNote);
            parseResult.InvocationConfiguration.Output.WriteLine();
            return exitCode;
        }
    }
}
