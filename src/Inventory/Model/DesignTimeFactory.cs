using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Pipeline.Inventory.Model;

/// <summary>For dotnet-ef: migrations are generated without a database; the connection string only names the provider.</summary>
public sealed class DesignTimeFactory : IDesignTimeDbContextFactory<InventoryDbContext>
{
    public InventoryDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<InventoryDbContext>().UseNpgsql("Host=localhost;Database=pipeline").Options);
}
