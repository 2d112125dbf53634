import { Module } from '@nestjs/common';
import { DemoTokenController } from './demo-token.controller.js';

/** The development-only demo: the token endpoint. Imported by AppModule only when `config.demoEnabled`. */
@Module({ controllers: [DemoTokenController] })
export class DemoModule {}
